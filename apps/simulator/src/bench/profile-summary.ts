import { readFileSync } from 'node:fs';

/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and lists where the time went: self time per function
 * and per package, inclusive time per package, and the same divided by the messages processed.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Which part of the system a frame belongs to: a workspace package, an npm package, Node, or V8. */
export function ownerOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(program)') return '(program)';
    return '(native)';
  }
  const ws = url.match(/\/(packages|apps)\/([^/]+)\/src\//);
  if (ws) return `@rivulet/${ws[2]}`;
  const nm = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (nm) return nm[nm.length - 1]!.replace(/^node_modules\//, '').replace(/\/$/, '');
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  return url.replace(/^file:\/\//, '');
}

export function summarizeProfile(file: string, opts: { messages?: number; top?: number } = {}): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const totalUs = prof.endTime - prof.startTime;
  let idleUs = 0;
  const fnSelf = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  const pkgIncl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const owner = ownerOf(n.callFrame.url, n.callFrame.functionName);
    if (owner === '(idle)') {
      idleUs += us;
      continue;
    }
    const short = n.callFrame.url.replace(/^.*\/(node_modules|packages|apps)\//, '$1/').replace(/^file:\/\//, '');
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${short}${short ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
    pkgSelf.set(owner, (pkgSelf.get(owner) ?? 0) + us);
    // Inclusive: every package on the stack of this sample, once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const o = ownerOf(f.url, f.functionName);
      if (o.startsWith('(')) continue;
      if (!seen.has(o)) {
        seen.add(o);
        pkgIncl.set(o, (pkgIncl.get(o) ?? 0) + us);
      }
    }
  }
  const busyUs = totalUs - idleUs;
  const msgs = opts.messages ?? 0;
  const per = (us: number) => (msgs > 0 ? `${(us / msgs).toFixed(2)} µs/msg` : '');
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1)}%`;
  const rows = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, n)
      .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(7)} ms  ${pct(us).padStart(6)}  ${per(us).padStart(14)}  ${k}`);
  return [
    `Profile ${file}`,
    `  wall ${(totalUs / 1e6).toFixed(1)} s, busy ${(busyUs / 1e6).toFixed(1)} s (${((100 * busyUs) / totalUs).toFixed(0)}%)${msgs > 0 ? `, ${msgs.toFixed(0)} messages acknowledged while profiled: ${(busyUs / msgs).toFixed(1)} µs busy per message (start-up included)` : ''}`,
    'Self time by function:',
    ...rows(fnSelf, opts.top ?? 30),
    'Self time by package:',
    ...rows(pkgSelf, 20),
    'Inclusive time by package (time with the package anywhere on the stack):',
    ...rows(pkgIncl, 20),
  ].join('\n');
}

/** Bottom-up: the call chains (depth frames, leaf first) under which `functionName` spends its self time. */
export function callersOf(file: string, functionName: string, opts: { depth?: number; top?: number } = {}): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const chains = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const leaf = byId.get(prof.samples[i]!)!;
    if (leaf.callFrame.functionName !== functionName) continue;
    const us = prof.timeDeltas[i] ?? 0;
    total += us;
    const frames: string[] = [];
    for (let cur = parent.get(leaf.id); cur !== undefined && frames.length < (opts.depth ?? 8); cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      frames.push(`${f.functionName || '(anonymous)'}@${f.url.replace(/^.*\/(node_modules|packages|apps)\//, '').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`);
    }
    const k = frames.join(' < ');
    chains.set(k, (chains.get(k) ?? 0) + us);
  }
  return [
    `${functionName}: ${(total / 1000).toFixed(0)} ms self`,
    ...[...chains.entries()]
      .sort((x, y) => y[1] - x[1])
      .slice(0, opts.top ?? 10)
      .map(([k, us]) => `  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`),
  ].join('\n');
}

// `tsx profile-summary.ts FILE [messages]` or `tsx profile-summary.ts FILE --callers NAME`
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'))) {
  const [file, second, third] = process.argv.slice(2);
  if (file && second === '--callers' && third) process.stdout.write(`${callersOf(file, third, { top: 12 })}\n`);
  else if (file) process.stdout.write(`${summarizeProfile(file, { messages: Number(second ?? 0), top: 40 })}\n`);
}
