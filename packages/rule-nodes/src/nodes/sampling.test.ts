import type { JsonValue } from '@rivulet/core';
import { createRecordingServices, testNodeContext } from '@rivulet/rule-engine/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { build, DEVICE, DEVICE2, relationsOf, run, telemetry, tmsg } from '../test-kit';
import { deadbandNode } from './deadband.node.js';
import { deduplicationNode } from './deduplication.node.js';
import { everyNthNode } from './every-nth.node.js';
import { throttleNode } from './throttle.node.js';
import { windowAggregationNode } from './window-aggregation.node.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});
const clock = () => createRecordingServices({ now: () => Date.now() });

describe('deduplication', () => {
  it('FIRST: the first message per originator goes on at once, the rest of the interval is dropped', async () => {
    const node = build(deduplicationNode, { interval: 10, strategy: 'FIRST' }, clock());
    expect(relationsOf(await run(node, telemetry({ n: 1 })))).toEqual(['Success']);
    expect(await run(node, telemetry({ n: 2 }))).toEqual([]);
    expect(relationsOf(await run(node, telemetry({ n: 1 }, {}, DEVICE2)))).toEqual(['Success']);
    vi.advanceTimersByTime(10_000);
    expect(relationsOf(await run(node, telemetry({ n: 3 })))).toEqual(['Success']);
  });

  it('LAST: holds the messages and emits the last one when the interval ends', async () => {
    const node = build(deduplicationNode, { interval: 5, strategy: 'LAST' }, clock());
    const ctx = testNodeContext();
    for (const n of [1, 2, 3]) expect(await run(node, telemetry({ n }), ctx)).toEqual([]);
    await run(node, telemetry({ n: 9 }, {}, DEVICE2), ctx);
    expect(ctx.emitted).toEqual([]);
    vi.advanceTimersByTime(5000);
    expect(ctx.emitted.map((r) => [r.relation, r.msg.originator.id, r.msg.data])).toEqual([
      ['Success', DEVICE.id, { n: 3 }],
      ['Success', DEVICE2.id, { n: 9 }],
    ]);
  });

  it('ALL: one message with every data, of outMsgType; the pack is capped by maxPendingMsgs', async () => {
    const node = build(deduplicationNode, { interval: 1, strategy: 'ALL', outMsgType: 'PACK', maxPendingMsgs: 2 }, clock());
    const ctx = testNodeContext();
    await run(node, telemetry({ n: 1 }), ctx);
    await run(node, telemetry({ n: 2 }), ctx);
    await expect(run(node, telemetry({ n: 3 }), ctx)).rejects.toThrow(/maxPendingMsgs 2/);
    vi.advanceTimersByTime(1000);
    expect(ctx.emitted).toHaveLength(1);
    expect(ctx.emitted[0]!.msg.type).toBe('PACK');
    expect(ctx.emitted[0]!.msg.data).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('caps the originators held and clears its timers in destroy()', async () => {
    const node = build(deduplicationNode, { interval: 1, strategy: 'LAST', maxOriginators: 1 }, clock());
    const ctx = testNodeContext();
    await run(node, telemetry({}), ctx);
    await expect(run(node, telemetry({}, {}, DEVICE2), ctx)).rejects.toThrow(/maxOriginators 1/);
    expect(vi.getTimerCount()).toBe(1);
    await node.destroy?.();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(ctx.emitted).toEqual([]);
  });
});

describe('throttle', () => {
  it('lets N per period per originator through, the rest leave by Skipped', async () => {
    const node = build(throttleNode, { maxMessages: 2, periodSeconds: 60 }, clock());
    const rels = async (o = DEVICE) => relationsOf(await run(node, telemetry({}, {}, o)))[0];
    expect([await rels(), await rels(), await rels(), await rels(DEVICE2)]).toEqual(['Success', 'Success', 'Skipped', 'Success']);
    vi.advanceTimersByTime(60_000);
    expect(await rels()).toBe('Success');
  });
  it('forgets the oldest originators past maxOriginators', async () => {
    const node = build(throttleNode, { maxMessages: 1, periodSeconds: 60, maxOriginators: 1 }, clock());
    await run(node, telemetry({}, {}, DEVICE));
    await run(node, telemetry({}, {}, DEVICE2));
    // DEVICE was forgotten: its next message counts as a first one.
    expect(relationsOf(await run(node, telemetry({}, {}, DEVICE)))).toEqual(['Success']);
  });
});

describe('every Nth message', () => {
  it('lets the first and then every Nth through, per originator', async () => {
    const node = build(everyNthNode, { n: 3 });
    const out: string[] = [];
    for (let i = 0; i < 7; i++) out.push(relationsOf(await run(node, telemetry({ i })))[0]!);
    expect(out).toEqual(['Success', 'Skipped', 'Skipped', 'Success', 'Skipped', 'Skipped', 'Success']);
    expect(relationsOf(await run(node, telemetry({}, {}, DEVICE2)))).toEqual(['Success']);
    const every = build(everyNthNode, { n: 1 });
    expect([...(await run(every, telemetry({}))), ...(await run(every, telemetry({})))].map((r) => r.relation)).toEqual(['Success', 'Success']);
  });
});

describe('window aggregation', () => {
  it('aggregates per originator and key over aligned windows and emits when the window closes', async () => {
    const node = build(windowAggregationNode, { intervalSeconds: 60, aggregations: ['AVG', 'MAX', 'COUNT'] }, clock());
    const ctx = testNodeContext();
    const start = Math.floor(Date.now() / 60_000) * 60_000;
    for (const [t, h] of [[20, 40], [22, 50], [24, '60']] as Array<[number, JsonValue]>) expect(await run(node, telemetry({ t, h, label: 'x' }), ctx)).toEqual([]);
    await run(node, telemetry([{ ts: 1, values: { t: 5 } }], {}, DEVICE2), ctx);
    expect(relationsOf(await run(node, tmsg('POST_ATTRIBUTES_REQUEST', { a: 1 }), ctx))).toEqual(['Other']);
    vi.advanceTimersByTime(start + 60_000 - Date.now());
    expect(ctx.emitted).toHaveLength(2);
    const [a, b] = ctx.emitted.map((r) => r.msg);
    expect(a!.data).toEqual({ t_avg: 22, t_max: 24, t_count: 3, h_avg: 50, h_max: 60, h_count: 3 });
    expect(a!.metadata.ts).toBe(String(start));
    expect(a!.type).toBe('POST_TELEMETRY_REQUEST');
    expect(b!.originator).toEqual(DEVICE2);
    expect(b!.data).toEqual({ t_avg: 5, t_max: 5, t_count: 1 });
    // The next window starts empty and nothing more is emitted without new data.
    vi.advanceTimersByTime(120_000);
    expect(ctx.emitted).toHaveLength(2);
  });

  it('keeps key names with one aggregation, honours the key list, caps and destroys', async () => {
    const node = build(windowAggregationNode, { intervalSeconds: 10, keys: ['t'], aggregations: ['SUM'], maxOriginators: 1 }, clock());
    const ctx = testNodeContext();
    await run(node, telemetry({ t: 1, h: 5 }), ctx);
    await run(node, telemetry({ t: 2 }), ctx);
    await expect(run(node, telemetry({ t: 1 }, {}, DEVICE2), ctx)).rejects.toThrow(/maxOriginators 1/);
    vi.advanceTimersByTime(10_000);
    expect(ctx.emitted.map((r) => r.msg.data)).toEqual([{ t: 3 }]);
    await run(node, telemetry({ t: 1 }), ctx);
    await node.destroy?.();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('report by exception (deadband)', () => {
  it('reports a change past the band since the last reported value, not the last seen', async () => {
    const node = build(deadbandNode, { keys: ['t'], deadband: 0.5 }, clock());
    const rel = async (t: number) => relationsOf(await run(node, telemetry({ t })))[0];
    expect([await rel(20), await rel(20.3), await rel(20.6), await rel(21.2)]).toEqual(['Success', 'Skipped', 'Success', 'Success']);
    // Slow drift: 21.2 -> 21.4 -> 21.6 -> 21.8 reports at 21.8 (0.6 from 21.2).
    expect([await rel(21.4), await rel(21.6), await rel(21.8)]).toEqual(['Skipped', 'Skipped', 'Success']);
  });
  it('percent band, heartbeat, non-numeric changes and dropping unchanged keys', async () => {
    const node = build(deadbandNode, { deadbandPercent: 10, maxIntervalSeconds: 60, dropUnchangedKeys: true }, clock());
    const out = async (data: Record<string, JsonValue>) => {
      const [r] = await run(node, telemetry(data));
      return r!.relation === 'Skipped' ? 'Skipped' : r!.msg.data;
    };
    expect(await out({ t: 100, s: 'on' })).toEqual({ t: 100, s: 'on' });
    expect(await out({ t: 105, s: 'on' })).toBe('Skipped');
    expect(await out({ t: 111, s: 'on' })).toEqual({ t: 111 });
    expect(await out({ t: 111, s: 'off' })).toEqual({ s: 'off' });
    vi.advanceTimersByTime(60_000);
    expect(await out({ t: 111, s: 'off' })).toEqual({ t: 111, s: 'off' });
  });
});
