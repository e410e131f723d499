import { MsgType, type DeviceInfo, type Msg } from '@rivulet/core';
import { Topics, createMemoryQueue, type QueueRecord } from '@rivulet/queue';
import { describe, expect, it, vi } from 'vitest';
import { DeviceRpcCalls, type DeviceRpcCall } from './device-rpc-calls';
import { createTransportService } from './transport-service';

const device: DeviceInfo = { tenantId: 't1', deviceId: 'd', deviceName: 'Pump', deviceType: 'pump' };

function setup(maxPerDevice = 64) {
  const queue = createMemoryQueue({});
  const timeouts: Array<{ requestId: unknown; at: number }> = [];
  const inner = queue.produce.bind(queue);
  queue.produce = (topic: string, records: ReadonlyArray<QueueRecord<unknown>>) => {
    for (const r of records) {
      const m = r.value as Msg;
      if (topic === Topics.RULE_ENGINE && m.type === MsgType.RPC_TIMEOUT) timeouts.push({ requestId: m.metadata.requestId, at: Date.now() });
    }
    return inner(topic, records as never);
  };
  const service = createTransportService({ queue, auth: { authenticateToken: async () => null }, deviceApi: { getAttributes: async () => ({}) } });
  return { service, timeouts, calls: new DeviceRpcCalls(service, maxPerDevice) };
}

const call = (requestId: string, expiresAt: number, oneway = false): DeviceRpcCall => ({ requestId, oneway, expiresAt, device });

describe('DeviceRpcCalls', () => {
  it('small per-device ids, taken once; beyond maxPerDevice the oldest goes; drop returns the rest', () => {
    const { calls } = setup(2);
    const later = Date.now() + 60_000;
    expect(calls.assign('d', call('r1', later), 0)).toBe(1);
    expect(calls.assign('d', call('r2', later), 0)).toBe(2);
    expect(calls.assign('e', call('r3', later), 0)).toBe(1);
    expect(calls.take('d', 1, Date.now())?.requestId).toBe('r1');
    expect(calls.take('d', 1, Date.now())).toBeUndefined();
    calls.assign('e', call('r4', later), 0);
    calls.assign('e', call('r5', later), 0);
    expect(calls.take('e', 1, Date.now())).toBeUndefined();
    expect(calls.size).toBe(3);
    expect(calls.drop('e').map((c) => c.requestId)).toEqual(['r4', 'r5']);
    calls.clear();
    expect(calls.size).toBe(0);
  });

  it("a two-way call not answered gives RPC_TIMEOUT at its own expiry, and is gone (the device's late reply finds nothing)", async () => {
    const { calls, timeouts } = setup();
    const expiresAt = Date.now() + 300;
    const id = calls.assign('d', call('late', expiresAt), Date.now());
    calls.assign('d', call('answered', expiresAt), Date.now());
    calls.assign('d', call('one-way', expiresAt, true), Date.now());
    expect(calls.take('d', 2, Date.now())?.requestId).toBe('answered');
    await vi.waitFor(() => expect(timeouts).toHaveLength(1), { timeout: 2000, interval: 5 });
    expect(timeouts[0]!.requestId).toBe('late');
    expect(timeouts[0]!.at).toBeGreaterThanOrEqual(expiresAt - 1);
    expect(timeouts[0]!.at - expiresAt).toBeLessThan(200);
    expect(calls.take('d', id, Date.now())).toBeUndefined();
    calls.prune(Date.now());
    expect(calls.size).toBe(0);
    await new Promise((r) => setTimeout(r, 100));
    expect(timeouts).toHaveLength(1);
  });

  it('dropped, evicted and cleared calls leave no timer: no RPC_TIMEOUT for them', async () => {
    const { calls, timeouts } = setup(1);
    const expiresAt = Date.now() + 100;
    calls.assign('d', call('evicted', expiresAt), Date.now());
    calls.assign('d', call('dropped', expiresAt), Date.now());
    calls.drop('d');
    calls.assign('e', call('cleared', expiresAt), Date.now());
    calls.clear();
    await new Promise((r) => setTimeout(r, 250));
    expect(timeouts).toEqual([]);
  });
});
