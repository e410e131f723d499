import { createRecordingServices, testNodeContext } from '@rivulet/rule-engine/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { build, DEVICE, DEVICE2, relationsOf, run, telemetry, TENANT, tmsg } from '../test-kit';
import { clearAlarmNode } from './clear-alarm.node.js';
import { createAlarmNode } from './create-alarm.node.js';
import { delayNode } from './delay.node.js';
import { deleteAttributesNode } from './delete-attributes.node.js';
import { saveAttributesNode } from './save-attributes.node.js';
import { bindServicesToTenant } from '@rivulet/rule-engine';
import type { Msg } from '@rivulet/core';
import { deviceStateNode } from './device-state.node.js';
import { generatorNode } from './generator.node.js';
import { msgCountNode } from './msg-count.node.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('delete attributes', () => {
  it('deletes the keys (patterns resolved) in the configured scope, or the metadata\'s', async () => {
    const s = createRecordingServices();
    for (const [scope, key] of [['SERVER_SCOPE', 'a'], ['SERVER_SCOPE', 'b'], ['SHARED_SCOPE', 'a']] as const) s.attributeWrites.push({ entityId: DEVICE.id, scope, key, value: 1, lastUpdateTs: 1 });
    const node = build(deleteAttributesNode, { keys: ['a', '${which}'] }, s);
    expect(relationsOf(await run(node, telemetry({}, { which: 'b' })))).toEqual(['Success']);
    expect(s.attributeWrites.map((a) => `${a.scope}/${a.key}`)).toEqual(['SHARED_SCOPE/a']);
    await run(node, telemetry({}, { scope: 'SHARED_SCOPE' }));
    expect(s.attributeWrites).toEqual([]);
  });
});

describe('attribute notifications (ThingsBoard\'s sendAttributesUpdatedNotification / sendAttributesDeletedNotification)', () => {
  it('save then ATTRIBUTES_UPDATED (not for CLIENT_SCOPE), delete then ATTRIBUTES_DELETED; tenant-bound services refuse another tenant\'s entity', async () => {
    const enqueued: Msg[] = [];
    const s = { ...createRecordingServices(), platformEvents: { enqueue: async (m: Msg) => void enqueued.push(m) } };
    await run(build(saveAttributesNode, { scope: 'SHARED_SCOPE', sendAttributesUpdatedNotification: true }, s), tmsg('POST_ATTRIBUTES_REQUEST', { mode: 'eco' }));
    await run(build(saveAttributesNode, { scope: 'CLIENT_SCOPE', sendAttributesUpdatedNotification: true }, s), tmsg('POST_ATTRIBUTES_REQUEST', { fw: '1' }));
    await run(build(saveAttributesNode, { scope: 'SERVER_SCOPE' }, s), tmsg('POST_ATTRIBUTES_REQUEST', { quiet: 1 }));
    await run(build(deleteAttributesNode, { scope: 'SHARED_SCOPE', keys: ['mode'], sendAttributesDeletedNotification: true }, s), tmsg('POST_ATTRIBUTES_REQUEST', {}));
    expect(enqueued.map((m) => [m.type, m.tenantId, m.originator.id, m.metadata.scope, m.data])).toEqual([
      ['ATTRIBUTES_UPDATED', TENANT, DEVICE.id, 'SHARED_SCOPE', { mode: 'eco' }],
      ['ATTRIBUTES_DELETED', TENANT, DEVICE.id, 'SHARED_SCOPE', { attributes: ['mode'] }],
    ]);
    // bound to TENANT: an entity it does not own, or a message naming another tenant, is refused before the queue
    const bound = bindServicesToTenant(s, { tenantId: TENANT, ownership: { owns: (_t, id) => id === DEVICE.id } });
    const cause = tmsg('POST_ATTRIBUTES_REQUEST', {});
    await expect(bound.platformEvents!.enqueue(tmsg('ATTRIBUTES_UPDATED', {}, {}, DEVICE2), cause)).rejects.toThrow();
    await expect(bound.platformEvents!.enqueue({ ...tmsg('ATTRIBUTES_UPDATED', {}), tenantId: 'other' }, cause)).rejects.toThrow(/not this chain's tenant/);
    await bound.platformEvents!.enqueue(tmsg('ATTRIBUTES_UPDATED', { ok: 1 }), cause);
    expect(enqueued).toHaveLength(3);
    expect(enqueued[2]!.metadata.rivuletEventDepth).toBe('1');
    // a chain answering its own notifications: each event is caused by the one before; the 9th in a row is refused
    let last = enqueued[2]!;
    for (let i = 2; i <= 8; i++) {
      await bound.platformEvents!.enqueue(tmsg('ATTRIBUTES_UPDATED', { i }), last);
      last = enqueued.at(-1)!;
      expect(last.metadata.rivuletEventDepth).toBe(String(i));
    }
    await expect(bound.platformEvents!.enqueue(tmsg('ATTRIBUTES_UPDATED', { i: 9 }), last)).rejects.toThrow(/9th platform event in a row .* in a loop/);
    expect(enqueued).toHaveLength(10);
  });
});

describe('create alarm', () => {
  it('one active alarm per originator and type: Created, then Updated with details from the script', async () => {
    const s = createRecordingServices({ now: 50 });
    const node = build(createAlarmNode, {
      alarmType: 'High Temperature ${zone}',
      severity: 'MAJOR',
      alarmDetailsBuildJs: 'var d = metadata.prevAlarmDetails ? JSON.parse(metadata.prevAlarmDetails) : {count: 0}; d.count++; d.t = msg.t; return d;',
    }, s);
    const [a] = await run(node, telemetry({ t: 31 }, { zone: 'A', ts: '1000' }));
    expect(a!.relation).toBe('Created');
    expect(a!.msg.type).toBe('ALARM');
    expect(a!.msg.metadata.isNewAlarm).toBe('true');
    expect(a!.msg.data).toMatchObject({ type: 'High Temperature A', severity: 'MAJOR', status: 'ACTIVE_UNACK', startTs: 1000, details: { count: 1, t: 31 }, originator: DEVICE });
    const [b] = await run(node, telemetry({ t: 35 }, { zone: 'A', ts: '2000' }));
    expect(b!.relation).toBe('Updated');
    expect(b!.msg.metadata.isExistingAlarm).toBe('true');
    expect(s.alarmList).toHaveLength(1);
    expect(s.alarmList[0]).toMatchObject({ details: { count: 2, t: 35 }, endTs: 2000 });
    // Another originator gets its own alarm.
    expect(relationsOf(await run(node, telemetry({ t: 40 }, { zone: 'A' }, DEVICE2)))).toEqual(['Created']);
  });
  it('dynamic severity, message alarm data, and clear errors', async () => {
    const s = createRecordingServices();
    const dyn = build(createAlarmNode, { severity: '${sev}', dynamicSeverity: true, alarmDetailsBuildJs: '' }, s);
    await run(dyn, telemetry({}, { sev: 'MINOR' }));
    expect(s.alarmList[0]?.severity).toBe('MINOR');
    await expect(run(dyn, telemetry({}, { sev: 'LOUD' }))).rejects.toThrow(/severity "LOUD"/);
    const fromMsg = build(createAlarmNode, { useMessageAlarmData: true }, s);
    const [r] = await run(fromMsg, telemetry({ type: 'Door Open', severity: 'WARNING', details: { door: 2 } }));
    expect(r!.msg.data).toMatchObject({ type: 'Door Open', severity: 'WARNING', details: { door: 2 } });
    expect(createAlarmNode.configSchema.safeParse({ severity: 'LOUD' }).success).toBe(false);
  });
  it('fails without the alarms capability or when storage fails', async () => {
    await expect(run(build(createAlarmNode, {}, { ...createRecordingServices(), alarms: undefined }), telemetry({}))).rejects.toThrow(/'alarms' service/);
    const s = createRecordingServices();
    s.failNext('alarms', new Error('db down'));
    await expect(run(build(createAlarmNode, {}, s), telemetry({}))).rejects.toThrow('db down');
  });
});

describe('clear alarm', () => {
  it('Cleared with the alarm, then False when none is active', async () => {
    const s = createRecordingServices({ now: 99 });
    await run(build(createAlarmNode, { alarmType: 'T' }, s), telemetry({}));
    const node = build(clearAlarmNode, { alarmType: 'T', alarmDetailsBuildJs: 'var d = JSON.parse(metadata.prevAlarmDetails); d.clearedBy = msg.who; return d;' }, s);
    const [a] = await run(node, telemetry({ who: 'op' }));
    expect(a!.relation).toBe('Cleared');
    expect(a!.msg.metadata.isClearedAlarm).toBe('true');
    expect(a!.msg.data).toMatchObject({ cleared: true, clearTs: 99, status: 'CLEARED_UNACK', details: { clearedBy: 'op' } });
    const input = telemetry({});
    const [b] = await run(node, input);
    expect(b).toEqual({ relation: 'False', msg: input });
    // A new alarm can be created after the clear.
    expect(relationsOf(await run(build(createAlarmNode, { alarmType: 'T' }, s), telemetry({})))).toEqual(['Created']);
  });
});

describe('message count', () => {
  it('counts messages and emits tenant telemetry every interval', async () => {
    vi.useFakeTimers();
    const node = build(msgCountNode, { interval: 1, telemetryPrefix: 'messageCount' });
    const ctx = testNodeContext();
    for (let i = 0; i < 3; i++) expect(await run(node, telemetry({}), ctx)).toEqual([]);
    vi.advanceTimersByTime(1000);
    await run(node, telemetry({}), ctx);
    vi.advanceTimersByTime(1000);
    expect(ctx.emitted.map((r) => [r.relation, r.msg.originator, r.msg.data])).toEqual([
      ['Success', { entityType: 'TENANT', id: TENANT }, { messageCount: 3 }],
      ['Success', { entityType: 'TENANT', id: TENANT }, { messageCount: 1 }],
    ]);
    await node.destroy?.();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('generator', () => {
  it('generates from its script every period, from start(), and stops after msgCount', async () => {
    const node = build(generatorNode, {
      msgCount: 3,
      periodInSeconds: 0.05,
      originatorType: 'DEVICE',
      originatorId: DEVICE.id,
      jsScript: 'var n = prevMsg.n === undefined ? 1 : prevMsg.n + 1; return {msg: {n: n}, metadata: {gen: "yes"}, msgType: "POST_TELEMETRY_REQUEST"};',
    });
    const ctx = testNodeContext('gen', { tenantId: TENANT });
    node.start?.(ctx);
    await vi.waitFor(() => expect(ctx.emitted).toHaveLength(3), { timeout: 3000 });
    expect(ctx.emitted.map((r) => [r.relation, r.msg.data, r.msg.originator, r.msg.tenantId, r.msg.metadata.gen])).toEqual([
      ['Success', { n: 1 }, DEVICE, TENANT, 'yes'],
      ['Success', { n: 2 }, DEVICE, TENANT, 'yes'],
      ['Success', { n: 3 }, DEVICE, TENANT, 'yes'],
    ]);
    await new Promise((r) => setTimeout(r, 150));
    expect(ctx.emitted).toHaveLength(3);
    await node.destroy?.();
  });
  it('does not start without a tenant; destroy() stops it', async () => {
    const node = build(generatorNode, { periodInSeconds: 0.02 });
    const none = testNodeContext();
    node.start?.(none);
    const ctx = testNodeContext('gen', { tenantId: TENANT });
    node.start?.(ctx);
    await vi.waitFor(() => expect(ctx.emitted.length).toBeGreaterThan(0), { timeout: 3000 });
    expect(ctx.emitted[0]!.msg.originator.entityType).toBe('RULE_NODE');
    await node.destroy?.();
    const n = ctx.emitted.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(ctx.emitted.length).toBe(n);
    expect(none.emitted).toEqual([]);
  });
});

describe('delay', () => {
  it('holds each message for the period, then emits it by Success; capped by maxPendingMsgs', async () => {
    vi.useFakeTimers();
    const node = build(delayNode, { periodInSeconds: 2, maxPendingMsgs: 2 });
    const ctx = testNodeContext();
    const a = telemetry({ a: 1 });
    expect(await run(node, a, ctx)).toEqual([]);
    await run(node, telemetry({ b: 1 }), ctx);
    await expect(run(node, telemetry({ c: 1 }), ctx)).rejects.toThrow(/Max limit of pending messages/);
    vi.advanceTimersByTime(1999);
    expect(ctx.emitted).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ctx.emitted.map((r) => r.msg)).toEqual([a, expect.objectContaining({ data: { b: 1 } })]);
  });
  it('period from a metadata pattern, and ThingsBoard 3.7\'s period + unit', async () => {
    vi.useFakeTimers();
    const ctx = testNodeContext();
    await run(build(delayNode, { useMetadataPeriodInSecondsPatterns: true, periodInSecondsPattern: '${wait}' }), telemetry({}, { wait: '1' }), ctx);
    await run(build(delayNode, { period: 500, periodTimeUnit: 'MILLISECONDS' }), telemetry({ fast: true }), ctx);
    vi.advanceTimersByTime(500);
    expect(ctx.emitted.map((r) => r.msg.data)).toEqual([{ fast: true }]);
    vi.advanceTimersByTime(500);
    expect(ctx.emitted).toHaveLength(2);
    await expect(run(build(delayNode, { useMetadataPeriodInSecondsPatterns: true, periodInSecondsPattern: '${wait}' }), telemetry({}))).rejects.toThrow(/did not give a number/);
  });
  it('destroy() drops what it holds', async () => {
    vi.useFakeTimers();
    const node = build(delayNode, { periodInSeconds: 1 });
    const ctx = testNodeContext();
    await run(node, telemetry({}), ctx);
    await node.destroy?.();
    vi.advanceTimersByTime(5000);
    expect(ctx.emitted).toEqual([]);
  });
});

describe('device state', () => {
  it('passes messages on by Success', async () => {
    expect(relationsOf(await run(build(deviceStateNode, { event: 'CONNECT_EVENT' }), tmsg('CONNECT_EVENT', {})))).toEqual(['Success']);
  });
});
