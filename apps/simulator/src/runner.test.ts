import { describe, expect, it } from 'vitest';
import type { DeviceConnection, Done } from './clients/types';
import { runLoad, type SimTarget } from './runner';
import { createDeviceSeries, PRESETS } from './templates';

/** A connection that acknowledges after `delayMs`, failing when `fail` says so; records what it saw. */
function fakeConn(opts: { delayMs?: number; fail?: (n: number) => string | undefined } = {}) {
  const state = { sent: 0, maxInflight: 0, inflight: 0, payloads: [] as string[] };
  const conn: DeviceConnection = {
    send(_kind, payload, done: Done) {
      const n = state.sent++;
      state.payloads.push(payload);
      state.inflight++;
      state.maxInflight = Math.max(state.maxInflight, state.inflight);
      setTimeout(() => {
        state.inflight--;
        const code = opts.fail?.(n);
        done(code ? Object.assign(new Error(`failed ${n}`), { code }) : undefined);
      }, opts.delayMs ?? 0);
    },
    close: async () => undefined,
  };
  return { conn, state };
}

const targets = (conns: DeviceConnection[]): SimTarget[] =>
  conns.map((conn, i) => ({ name: `d${i}`, conn, series: createDeviceSeries(PRESETS.bench!) }));

describe('load runner', () => {
  it('open loop: keeps to the rate, spreads it over devices, counts points', async () => {
    const fakes = [fakeConn(), fakeConn(), fakeConn(), fakeConn()];
    const s = await runLoad({ targets: targets(fakes.map((f) => f.conn)), rate: 400, inflight: 4, durationS: 0.5 });
    expect(s.acked).toBe(s.sent);
    expect(s.sent).toBeGreaterThan(150);
    expect(s.sent).toBeLessThanOrEqual(200);
    expect(s.pointsAcked).toBe(3 * s.acked);
    for (const f of fakes) expect(f.state.sent).toBeGreaterThan(s.sent / 4 - 5);
    expect(s.errors).toBe(0);
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(0);
  });

  it('closed loop: never more than the in-flight window per device; stops at --messages', async () => {
    const f = fakeConn({ delayMs: 2 });
    const s = await runLoad({ targets: targets([f.conn]), rate: 0, inflight: 3, durationS: 10, maxMessages: 60 });
    expect(f.state.maxInflight).toBe(3);
    expect(s.sent).toBe(60);
    expect(s.acked).toBe(60);
    expect(s.durationS).toBeLessThan(5);
  });

  it('counts errors by code and stops a device whose connection is gone', async () => {
    const f = fakeConn({ fail: (n) => (n === 2 ? 'HTTP_500' : n === 5 ? 'DISCONNECTED' : undefined) });
    const s = await runLoad({ targets: targets([f.conn]), rate: 0, inflight: 1, durationS: 2 });
    expect(s.errorsByCode).toEqual({ HTTP_500: 1, DISCONNECTED: 1 });
    expect(s.acked).toBe(4);
    expect(s.lostDevices).toBe(1);
    expect(s.firstError).toBe('failed 2');
  });

  it('a server that never answers: the run still ends, reporting what went unanswered', async () => {
    const silent: DeviceConnection = { send: () => undefined, close: async () => undefined };
    const s = await runLoad({ targets: targets([silent]), rate: 1000, inflight: 5, durationS: 0.2, drainTimeoutMs: 100 });
    expect(s.sent).toBe(5);
    expect(s.unanswered).toBe(5);
    expect(s.acked).toBe(0);
  });

  it('reports progress while running', async () => {
    const seen: number[] = [];
    await runLoad({ targets: targets([fakeConn().conn]), rate: 200, inflight: 1, durationS: 0.35, progressIntervalMs: 100, onProgress: (p) => seen.push(p.acked) });
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toBeGreaterThan(0);
  });
});
