import { describe, expect, it } from 'vitest';
import { Feed, classifyPublish, classifySubscription } from './topics';

describe('classifyPublish', () => {
  it.each([
    ['v1/devices/me/telemetry', { kind: 'telemetry' }],
    ['v2/t', { kind: 'telemetry' }],
    ['v1/devices/me/attributes', { kind: 'attributes' }],
    ['v2/a', { kind: 'attributes' }],
    ['v1/devices/me/attributes/request/7', { kind: 'attributesRequest', style: 'v1', id: '7' }],
    ['v2/a/req/7', { kind: 'attributesRequest', style: 'v2', id: '7' }],
    ['v1/devices/me/rpc/request/3', { kind: 'rpcRequest', style: 'v1', id: '3' }],
    ['v2/r/req/3', { kind: 'rpcRequest', style: 'v2', id: '3' }],
    ['v1/devices/me/rpc/response/3', { kind: 'rpcResponse', style: 'v1', id: '3' }],
    ['v2/r/res/3', { kind: 'rpcResponse', style: 'v2', id: '3' }],
    ['v1/gateway/telemetry', { kind: 'gatewayTelemetry' }],
    ['v1/gateway/rpc', { kind: 'gatewayRpc' }],
  ])('%s', (topic, route) => {
    expect(classifyPublish(topic)).toEqual(route);
  });

  it.each(['v1/devices/me/attributes/request/', 'v1/devices/me/rpc/request/1/2', 'v1/devices/me/telemetry/', 'v1/gateway/constructor', 'constructor', '__proto__', 'v3/t', ''])(
    'unknown: %j',
    (topic) => {
      expect(classifyPublish(topic)).toEqual({ kind: 'unknown' });
    },
  );
});

describe('classifySubscription', () => {
  it.each([
    ['v1/devices/me/attributes', Feed.ATTRIBUTES],
    ['v2/a', Feed.ATTRIBUTES_V2],
    ['v1/devices/me/attributes/response/+', Feed.ATTRIBUTES_RESPONSE],
    ['v1/devices/me/attributes/response/#', Feed.ATTRIBUTES_RESPONSE],
    ['v1/devices/me/attributes/response/12', Feed.ATTRIBUTES_RESPONSE],
    ['v1/devices/me/rpc/request/+', Feed.RPC],
    ['v2/r/req/+', Feed.RPC_V2],
    ['v1/devices/me/rpc/response/+', Feed.RPC_RESPONSE],
    ['v2/r/res/+', Feed.RPC_RESPONSE_V2],
    ['v1/gateway/attributes', Feed.GATEWAY_ATTRIBUTES],
    ['v1/gateway/rpc', Feed.GATEWAY_RPC],
  ])('%s', (filter, feed) => {
    expect(classifySubscription(filter)).toBe(feed);
  });

  it.each(['#', '+/+/+', 'v1/#', 'v1/devices/me/#', 'v1/devices/+/telemetry', 'v1/devices/me/telemetry', 'v1/devices/me/rpc/request/a+', '$SYS/#', 'constructor', '$rivulet/session'])(
    'refused: %s',
    (filter) => {
      expect(classifySubscription(filter)).toBe(0);
    },
  );
});
