import { describe, expect, it } from 'vitest';
import type { ToDeviceRpcRequest, ToDeviceRpcResponse } from '@rivulet/core';
import type { Broadcast } from './channel';
import { RpcChannel } from './channels';
import { createRpcCaller } from './rpc-caller';

/** A synchronous in-process broadcast, as the memory broadcast behaves, that shows its subscriptions. */
function broadcast(): Broadcast & { handlers: Map<string, Array<(e: unknown) => void>> } {
  const handlers = new Map<string, Array<(e: unknown) => void>>();
  return {
    handlers,
    publish: (channel, event) => handlers.get(channel.name)?.slice().forEach((h) => h(event)),
    subscribe(channel, handler) {
      const h = handler as (e: unknown) => void;
      handlers.set(channel.name, [...(handlers.get(channel.name) ?? []), h]);
      return () => handlers.set(channel.name, (handlers.get(channel.name) ?? []).filter((x) => x !== h));
    },
  };
}

const request = (over: Partial<ToDeviceRpcRequest> = {}): ToDeviceRpcRequest => ({
  requestId: 'r1',
  tenantId: 't',
  deviceId: 'd',
  method: 'm',
  params: {},
  oneway: false,
  expirationTime: Date.now() + 5000,
  ...over,
});

/** A transport that holds a session of device "d" and reacts to requests with `answer`. */
function transport(b: Broadcast, answer: (r: ToDeviceRpcRequest, respond: (e: ToDeviceRpcResponse) => void) => void): void {
  b.subscribe(RpcChannel.TO_DEVICE, (r) => {
    if (r.deviceId === 'd') answer(r, (resp) => b.publish(RpcChannel.TO_DEVICE_RESPONSE, resp));
  });
}

describe('createRpcCaller', () => {
  it('two-way: the reply after the pickup', async () => {
    const b = broadcast();
    transport(b, (r, respond) => {
      respond({ requestId: r.requestId, deviceId: r.deviceId, delivered: true });
      setTimeout(() => respond({ requestId: r.requestId, deviceId: r.deviceId, delivered: true, response: { ok: 1 } }), 10);
    });
    const caller = createRpcCaller({ broadcast: b, pickupTimeoutMs: 5 });
    expect(await caller.call(request())).toEqual({ kind: 'delivered', response: { ok: 1 } });
    expect(caller.pending()).toBe(0);
  });

  it('one-way: done with the pickup; nobody picks it up: no-session', async () => {
    const b = broadcast();
    transport(b, (r, respond) => respond({ requestId: r.requestId, deviceId: r.deviceId, delivered: true }));
    const caller = createRpcCaller({ broadcast: b, pickupTimeoutMs: 20 });
    expect(await caller.call(request({ oneway: true }))).toEqual({ kind: 'delivered' });
    expect(await caller.call(request({ requestId: 'r2', deviceId: 'other' }))).toEqual({ kind: 'no-session' });
  });

  it('picked up but not answered before expiration: timeout; an error from the transport: error', async () => {
    const b = broadcast();
    transport(b, (r, respond) => {
      respond({ requestId: r.requestId, deviceId: r.deviceId, delivered: true });
      if (r.method === 'fail') respond({ requestId: r.requestId, deviceId: r.deviceId, error: 'gone' });
    });
    const caller = createRpcCaller({ broadcast: b, pickupTimeoutMs: 5 });
    expect(await caller.call(request({ expirationTime: Date.now() + 50 }))).toEqual({ kind: 'timeout' });
    expect(await caller.call(request({ requestId: 'r3', method: 'fail' }))).toEqual({ kind: 'error', error: 'gone' });
  });

  it('ignores answers for another device under the same request id; close() ends calls and unsubscribes', async () => {
    const b = broadcast();
    const caller = createRpcCaller({ broadcast: b, pickupTimeoutMs: 1000 });
    const p = caller.call(request());
    b.publish(RpcChannel.TO_DEVICE_RESPONSE, { requestId: 'r1', deviceId: 'intruder', delivered: true, response: 'x' });
    caller.close();
    expect(await p).toEqual({ kind: 'timeout' });
    expect(b.handlers.get(RpcChannel.TO_DEVICE_RESPONSE.name)).toEqual([]);
  });
});
