import { MsgType, type DeviceInfo, type Msg, type ToDeviceRpcRequest } from '@rivulet/core';
import { Topics, createMemoryQueue, type QueueRecord } from '@rivulet/queue';
import { describe, expect, it } from 'vitest';
import { createTransportService } from './transport-service';

const device: DeviceInfo = { tenantId: 't1', deviceId: 'd1', deviceName: 'Pump', deviceType: 'pump' };
const req: ToDeviceRpcRequest = { requestId: 'r-1', tenantId: 't1', deviceId: 'd1', method: 'setGpio', params: { pin: 1 }, oneway: false, expirationTime: 5000 };

function setup(rpcEvents?: boolean) {
  const queue = createMemoryQueue({});
  const produced: Msg[] = [];
  const inner = queue.produce.bind(queue);
  queue.produce = (topic: string, records: ReadonlyArray<QueueRecord<unknown>>) => {
    if (topic === Topics.RULE_ENGINE) produced.push(...records.map((r) => r.value as Msg));
    return inner(topic, records as never);
  };
  const service = createTransportService({ queue, auth: { authenticateToken: async () => null }, deviceApi: { getAttributes: async () => ({}) }, now: () => 1000, ...(rpcEvents === undefined ? {} : { rpcEvents }) });
  return { service, produced };
}

describe('RPC lifecycle messages', () => {
  it("have ThingsBoard's types, the device as originator, the Rpc entity as data", () => {
    const { service, produced } = setup();
    service.rpcSent(device, req);
    service.rpcReplied(device, req, { ok: true });
    service.rpcFailed(device, req, 'gone');
    service.rpcTimedOut(device, req);
    service.rpcSent(device, { ...req, requestId: 'r-2', oneway: true });
    expect(produced.map((m) => m.type)).toEqual([
      MsgType.RPC_SENT,
      MsgType.RPC_DELIVERED,
      MsgType.RPC_SUCCESSFUL,
      MsgType.RPC_FAILED,
      MsgType.RPC_TIMEOUT,
      MsgType.RPC_SENT,
      MsgType.RPC_DELIVERED,
      MsgType.RPC_SUCCESSFUL,
    ]);
    const sent = produced[0]!;
    expect(sent).toMatchObject({ originator: { entityType: 'DEVICE', id: 'd1' }, tenantId: 't1', metadata: { deviceName: 'Pump', deviceType: 'pump', requestId: 'r-1' } });
    expect(sent.data).toEqual({
      id: { entityType: 'RPC', id: 'r-1' },
      createdTime: 1000,
      tenantId: { entityType: 'TENANT', id: 't1' },
      deviceId: { entityType: 'DEVICE', id: 'd1' },
      expirationTime: 5000,
      request: { id: 'r-1', tenantId: { entityType: 'TENANT', id: 't1' }, deviceId: { entityType: 'DEVICE', id: 'd1' }, oneway: false, expirationTime: 5000, body: { method: 'setGpio', params: '{"pin":1}' }, persisted: false },
      response: null,
      status: 'SENT',
      additionalInfo: null,
    });
    expect(produced[2]!.data).toMatchObject({ status: 'SUCCESSFUL', response: { ok: true } });
    expect(produced[3]!.data).toMatchObject({ status: 'FAILED', response: { error: 'gone' } });
    expect(service.stats().rpcEvents).toBe(8);
  });

  it('rpcEvents: false produces none', () => {
    const { service, produced } = setup(false);
    service.rpcSent(device, req);
    service.rpcReplied(device, req, null);
    expect(produced).toEqual([]);
  });
});
