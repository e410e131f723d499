import { describe, expect, it } from 'vitest';
import { createMsg, MsgType, type RpcOutcome, type ToDeviceRpcRequest, type ToServerRpcReply } from '@rivulet/core';
import type { RuleNodeServices } from '@rivulet/rule-engine';
import { createRecordingServices, testNodeContext } from '@rivulet/rule-engine/testing';
import { rpcCallReplyNode } from './rpc-call-reply.node.js';
import { rpcCallRequestNode } from './rpc-call-request.node.js';

const device = { entityType: 'DEVICE' as const, id: '7d6c1e2a-0000-4000-8000-000000000001' };

function withRpc(outcome: RpcOutcome = { kind: 'delivered', response: { ok: true } }) {
  const sent: ToDeviceRpcRequest[] = [];
  const replies: ToServerRpcReply[] = [];
  const services: RuleNodeServices = {
    ...createRecordingServices({ now: 1000 }),
    rpc: {
      async sendToDevice(r) {
        sent.push(r);
        return outcome;
      },
      replyToDevice: (r) => void replies.push(r),
    },
  };
  return { services, sent, replies };
}

describe('rpc call reply (TbSendRPCReplyNode)', () => {
  it('sends the data to the asking session of the originator device', async () => {
    const { services, replies } = withRpc();
    const node = rpcCallReplyNode.create(rpcCallReplyNode.configSchema.parse({}), services);
    const msg = createMsg({ type: MsgType.TO_SERVER_RPC_REQUEST, originator: device, tenantId: 't', data: { time: 5 }, metadata: { requestId: '3', sessionId: 's-1' } });
    expect((await node.process(msg, testNodeContext()))[0]?.relation).toBe('Success');
    expect(replies).toEqual([{ deviceId: device.id, requestId: '3', sessionId: 's-1', body: { time: 5 } }]);
  });

  it('fails without a request id, for a non-device originator, or without the rpc service', async () => {
    const { services } = withRpc();
    const node = rpcCallReplyNode.create(rpcCallReplyNode.configSchema.parse({}), services);
    const base = { type: MsgType.TO_SERVER_RPC_REQUEST, tenantId: 't', data: { a: 1 } };
    expect(() => node.process(createMsg({ ...base, originator: device }), testNodeContext())).toThrow(/Request id is not present/);
    expect(() => node.process(createMsg({ ...base, originator: { entityType: 'TENANT', id: 'x' }, metadata: { requestId: '1' } }), testNodeContext())).toThrow(/not a device/);
    const bare = rpcCallReplyNode.create(rpcCallReplyNode.configSchema.parse({}), createRecordingServices());
    expect(() => bare.process(createMsg({ ...base, originator: device, metadata: { requestId: '1' } }), testNodeContext())).toThrow(/'rpc' service/);
  });
});

describe('rpc call request (TbSendRPCRequestNode)', () => {
  const call = (data: unknown, metadata: Record<string, string> = {}) =>
    createMsg({ type: MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE, originator: device, tenantId: 't', data: data as never, metadata });

  it('sends {method, params} to the originator and goes on with its reply', async () => {
    const { services, sent } = withRpc({ kind: 'delivered', response: { pin: 1, value: true } });
    const node = rpcCallRequestNode.create(rpcCallRequestNode.configSchema.parse({ timeoutInSeconds: 5 }), services);
    const routes = await node.process(call({ method: 'setGpio', params: { pin: 1 } }), testNodeContext());
    expect(routes.map((r) => [r.relation, r.msg.data])).toEqual([['Success', { pin: 1, value: true }]]);
    expect(sent[0]).toMatchObject({ deviceId: device.id, tenantId: 't', method: 'setGpio', params: { pin: 1 }, oneway: false, expirationTime: 6000 });
  });

  it('one-way from the metadata; requestUUID kept', async () => {
    const { services, sent } = withRpc({ kind: 'delivered' });
    const node = rpcCallRequestNode.create(rpcCallRequestNode.configSchema.parse({}), services);
    const msg = call({ method: 'reboot', params: {} }, { oneway: 'true', requestUUID: 'r-1' });
    expect((await node.process(msg, testNodeContext()))[0]?.msg).toBe(msg);
    expect(sent[0]).toMatchObject({ oneway: true, requestId: 'r-1' });
  });

  it.each([
    [{ kind: 'no-session' } as RpcOutcome, /No active device session/],
    [{ kind: 'timeout' } as RpcOutcome, /did not reply in time/],
    [{ kind: 'error', error: 'gone' } as RpcOutcome, /gone/],
  ])('fails on %o', async (outcome, error) => {
    const node = rpcCallRequestNode.create(rpcCallRequestNode.configSchema.parse({}), withRpc(outcome).services);
    await expect(node.process(call({ method: 'm', params: {} }), testNodeContext())).rejects.toThrow(error);
  });

  it('fails on a message without method or params', async () => {
    const node = rpcCallRequestNode.create(rpcCallRequestNode.configSchema.parse({}), withRpc().services);
    await expect(node.process(call({ params: {} }), testNodeContext())).rejects.toThrow(/Method is not present/);
    await expect(node.process(call({ method: 'm' }), testNodeContext())).rejects.toThrow(/Params are not present/);
  });
});
