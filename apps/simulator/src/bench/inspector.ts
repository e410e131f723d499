import WebSocket from 'ws';
import type { Child } from './children';

/** The inspector URL a child started with --inspect=127.0.0.1:0 printed. */
export async function inspectorUrl(child: Child): Promise<string> {
  const line = await child.waitFor(/Debugger listening on ws:\/\//, 30_000);
  return line.slice(line.indexOf('ws://')).trim();
}

/**
 * A full garbage collection in another Node process, through its inspector (the idle-memory figure
 * is taken after one, before and after the connections, so garbage does not count as cost).
 */
export async function collectGarbage(url: string): Promise<void> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  try {
    for (let id = 1; id <= 2; id++) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('inspector: no answer to HeapProfiler.collectGarbage')), 30_000);
        const onMsg = (raw: WebSocket.RawData) => {
          if ((JSON.parse(String(raw)) as { id?: number }).id === id) {
            clearTimeout(t);
            ws.off('message', onMsg);
            resolve();
          }
        };
        ws.on('message', onMsg);
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      });
    }
  } finally {
    ws.close();
  }
}

/** A connected inspector session: send a command, await its result. */
export async function inspectorSession(url: string): Promise<{ post<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>; close(): void }> {
  const ws = new WebSocket(url, { maxPayload: 1 << 30 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 1;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw)) as { id?: number; result?: unknown; error?: { message: string } };
    if (m.id === undefined) return;
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.error) w.reject(new Error(m.error.message));
    else w.resolve(m.result);
  });
  return {
    post<T>(method: string, params: Record<string, unknown> = {}) {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => ws.close(),
  };
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/**
 * Where a process allocates, garbage included (V8's sampling heap profiler with the objects later
 * collected by minor and major GCs kept): bytes by allocating function, leaf first, with its caller.
 */
export async function allocationProfile(url: string, run: () => Promise<void>, opts: { top?: number; messages?: () => number } = {}): Promise<string> {
  const s = await inspectorSession(url);
  try {
    await s.post('HeapProfiler.enable');
    await s.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await run();
    const { profile } = await s.post<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling');
    const bySite = new Map<string, number>();
    let total = 0;
    const short = (f: SamplingNode['callFrame']) => `${f.functionName || '(anonymous)'}@${f.url.replace(/^.*\/(node_modules|packages|apps)\//, '').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`;
    const walk = (n: SamplingNode, parentName: string) => {
      if (n.selfSize > 0) {
        const k = `${short(n.callFrame)}  < ${parentName}`;
        bySite.set(k, (bySite.get(k) ?? 0) + n.selfSize);
        total += n.selfSize;
      }
      for (const c of n.children) walk(c, short(n.callFrame));
    };
    walk(profile.head, '(root)');
    const msgs = opts.messages?.() ?? 0;
    return [
      `Allocations while measured: ${(total / 2 ** 20).toFixed(0)} MB${msgs > 0 ? ` over ${msgs} messages = ${(total / msgs / 1024).toFixed(2)} KB per message` : ''} (sampled every 16 KB, garbage included)`,
      ...[...bySite.entries()]
        .sort((x, y) => y[1] - x[1])
        .slice(0, opts.top ?? 30)
        .map(([k, b]) => `  ${(b / 2 ** 20).toFixed(1).padStart(7)} MB  ${((100 * b) / total).toFixed(1).padStart(5)}%  ${msgs > 0 ? `${(b / msgs).toFixed(0).padStart(6)} B/msg  ` : ''}${k}`),
    ].join('\n');
  } finally {
    await s.post('HeapProfiler.disable').catch(() => undefined);
    s.close();
  }
}
