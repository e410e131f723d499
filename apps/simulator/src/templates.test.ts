import { describe, expect, it } from 'vitest';
import { createDeviceSeries, parseKeySpec, PRESETS, seededRandom } from './templates';

describe('telemetry templates', () => {
  it('bench preset: 3 points per message in {ts, values}, strictly increasing ts even within one millisecond', () => {
    const s = createDeviceSeries(PRESETS.bench!, { random: seededRandom(1) });
    const a = s.next(1_000);
    const b = s.next(1_000);
    const pa = JSON.parse(a.payload) as { ts: number; values: Record<string, number> };
    const pb = JSON.parse(b.payload) as { ts: number; values: Record<string, number> };
    expect(Object.keys(pa.values)).toEqual(['temperature', 'humidity', 'seq']);
    expect(a.points).toBe(3);
    expect([pa.ts, pb.ts]).toEqual([1_000, 1_001]);
    expect([pa.values.seq, pb.values.seq]).toEqual([0, 1]);
    expect(s.lastTs).toBe(1_001);
    expect(b.lastTs).toBe(1_001);
  });

  it('a ts floor keeps a later run above the previous one', () => {
    const s = createDeviceSeries(PRESETS.bench!, { tsFloor: 5_000 });
    expect(s.next(1_000).lastTs).toBe(5_001);
  });

  it('random walk stays within its bounds; sine stays within its amplitude', () => {
    const s = createDeviceSeries(
      { shape: 'flat', keys: { w: { kind: 'walk', start: 0, step: 5, min: -1, max: 1 }, s: { kind: 'sine', mid: 10, amplitude: 2, periodMs: 1000 } } },
      { random: seededRandom(7) },
    );
    for (let i = 0; i < 200; i++) {
      const v = JSON.parse(s.next(i * 37).payload) as { w: number; s: number };
      expect(v.w).toBeGreaterThanOrEqual(-1);
      expect(v.w).toBeLessThanOrEqual(1);
      expect(v.s).toBeGreaterThanOrEqual(8);
      expect(v.s).toBeLessThanOrEqual(12);
    }
  });

  it('array shape: N groups of {ts, values}, JSON values and odd keys escaped', () => {
    const s = createDeviceSeries({ shape: 'array', groups: 3, keys: { 'a"b': { kind: 'const', value: { ok: true } }, n: { kind: 'counter', start: 5, step: 2 } } });
    const m = s.next(100);
    expect(m.points).toBe(6);
    expect(JSON.parse(m.payload)).toEqual([
      { ts: 100, values: { 'a"b': { ok: true }, n: 5 } },
      { ts: 101, values: { 'a"b': { ok: true }, n: 7 } },
      { ts: 102, values: { 'a"b': { ok: true }, n: 9 } },
    ]);
  });

  it('seeded series repeat', () => {
    const a = createDeviceSeries(PRESETS.thermostat!, { random: seededRandom(42) });
    const b = createDeviceSeries(PRESETS.thermostat!, { random: seededRandom(42) });
    expect(a.next(0).payload).toBe(b.next(0).payload);
  });

  it('parses --keys specs and names what is wrong', () => {
    expect(parseKeySpec('t:walk:20:0.5:0:40,h:sine:50:10:60000,c:counter,m:choice:a|b,j:const:{"x":1},s:const:hello')).toEqual({
      t: { kind: 'walk', start: 20, step: 0.5, min: 0, max: 40 },
      h: { kind: 'sine', mid: 50, amplitude: 10, periodMs: 60000 },
      c: { kind: 'counter', start: 0, step: 1 },
      m: { kind: 'choice', values: ['a', 'b'] },
      j: { kind: 'const', value: { x: 1 } },
      s: { kind: 'const', value: 'hello' },
    });
    expect(() => parseKeySpec('t:bogus')).toThrow(/unknown generator "bogus"/);
    expect(() => parseKeySpec('t:walk:x')).toThrow(/"x" is not a number/);
  });
});
