import { describe, expect, it } from 'vitest';
import { cpuSeconds, parentPid, peakRssBytes, rssBytes, tree, treeCpuSeconds, watchTree } from './proc';

describe('/proc readings', () => {
  it('reads this process: CPU, memory, parent, tree; a gone process reads as zero', () => {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
    // Own CPU first: the tree's reading comes later, so it can only be larger (reading it first made
    // the comparison race the clock tick between the two reads).
    const own = cpuSeconds(process.pid);
    expect(treeCpuSeconds(process.pid)).toBeGreaterThanOrEqual(own);
    expect(rssBytes(process.pid)).toBeGreaterThan(10 * 2 ** 20);
    expect(peakRssBytes(process.pid)).toBeGreaterThan(10 * 2 ** 20);
    expect(parentPid(process.pid)).toBe(process.ppid);
    expect(tree(process.ppid)).toContain(process.pid);
    expect(cpuSeconds(2 ** 22 + 1)).toBe(0);
    const w = watchTree(process.pid);
    const r = w.stop();
    expect(r.peakMemBytes).toBeGreaterThan(0);
    expect(r.cpuS).toBeGreaterThanOrEqual(0);
  });
});
