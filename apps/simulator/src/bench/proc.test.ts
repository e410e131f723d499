import { describe, expect, it } from 'vitest';
import { cpuSeconds, parentPid, peakRssBytes, rssBytes, tree, treeCpuSeconds, watchTree } from './proc';

describe('/proc readings', () => {
  it('reads this process: CPU, memory, parent, tree; a gone process reads as zero', () => {
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
    expect(x).toBeGreaterThan(0);
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(treeCpuSeconds(process.pid)).toBeGreaterThanOrEqual(cpuSeconds(process.pid));
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
