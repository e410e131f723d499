import { describe, expect, it } from 'vitest';
import type { ToDeviceRpcRequest, ToDeviceRpcResponse } from '@rivulet/core';
import type { Broadcast } from './channel';
import { respondToCaller, RpcChannel } from './channels';
import { createMemoryBroadcast } from './memory-broadcast';
import { createRpcCaller } from './rpc-caller';

/** The memory broadcast, showing how many subscriptions are open. */
function broadcast(): Broadcast & { subscriptions(): number } {
  const inner = createMemoryBroadcast();
  let open = 0;
  return {
    ...inner,
    subscribe(channel, handler) {
      open++;
      const off = inner.subscribe(channel, handler);
      let on = true;
      return () => {
        if (on) open--;
        on = false;
        off();
      };
    },
    subscriptions: () => open,
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
  b.holdSession('d');
  b.subscribe(RpcChannel.TO_DEVICE, (r) => {
    if (r.deviceId === 'd') answer(r, (resp) => respondToCaller(b, r.replyTo, resp));
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
    b.holdSession('d');
    const caller = createRpcCaller({ broadcast: b, pickupTimeoutMs: 1000 });
    const p = caller.call(request());
    b.publish(RpcChannel.TO_DEVICE_RESPONSE, { requestId: 'r1', deviceId: 'intruder', delivered: true, response: 'x' });
    caller.close();
    expect(await p).toEqual({ kind: 'timeout' });
    expect(b.subscriptions()).toBe(0);
  });

  it('a device no process holds a session of is answered "no session" at once, without waiting for a pickup', async () => {
    const b = broadcast();
    const seen: ToDeviceRpcRequest[] = [];
    b.subscribe(RpcChannel.TO_DEVICE, (r) => seen.push(r));
    const caller = createRpcCaller({ broadcast: b, pickupTimeoutMs: 400 });
    const started = Date.now();
    expect(await caller.call(request({ deviceId: 'offline' }))).toEqual({ kind: 'no-session' });
    expect(Date.now() - started).toBeLessThan(50);
    expect(seen).toEqual([]);
    // held, but the session takes no commands: the pickup window decides
    const release = b.holdSession('silent');
    const t0 = Date.now();
    expect(await caller.call(request({ requestId: 'r2', deviceId: 'silent' }))).toEqual({ kind: 'no-session' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(seen.map((r) => [r.deviceId, r.replyTo])).toEqual([['silent', b.nodeId]]);
    release();
    expect(b.heldSessions()).toBe(0);
  });
});
