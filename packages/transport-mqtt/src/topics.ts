/**
 * ThingsBoard's MQTT device API topics (shared/thingsboard-api.md), the v1 names and the v2 short
 * aliases, and the gateway API. Classification is by exact string or prefix: no regular expression
 * on the hot path.
 */
export const Topic = {
  TELEMETRY: 'v1/devices/me/telemetry',
  ATTRIBUTES: 'v1/devices/me/attributes',
  ATTRIBUTES_REQUEST: 'v1/devices/me/attributes/request/',
  ATTRIBUTES_RESPONSE: 'v1/devices/me/attributes/response/',
  RPC_REQUEST: 'v1/devices/me/rpc/request/',
  RPC_RESPONSE: 'v1/devices/me/rpc/response/',
  TELEMETRY_V2: 'v2/t',
  ATTRIBUTES_V2: 'v2/a',
  ATTRIBUTES_REQUEST_V2: 'v2/a/req/',
  ATTRIBUTES_RESPONSE_V2: 'v2/a/res/',
  RPC_REQUEST_V2: 'v2/r/req/',
  RPC_RESPONSE_V2: 'v2/r/res/',
  GATEWAY_CONNECT: 'v1/gateway/connect',
  GATEWAY_DISCONNECT: 'v1/gateway/disconnect',
  GATEWAY_TELEMETRY: 'v1/gateway/telemetry',
  GATEWAY_ATTRIBUTES: 'v1/gateway/attributes',
  GATEWAY_ATTRIBUTES_REQUEST: 'v1/gateway/attributes/request',
  GATEWAY_ATTRIBUTES_RESPONSE: 'v1/gateway/attributes/response',
  GATEWAY_RPC: 'v1/gateway/rpc',
  /** A device announces it may be claimed: `{"secretKey":"...","durationMs":60000}` (both optional). */
  CLAIM: 'v1/devices/me/claim',
  /** A gateway announces it for devices behind it: `{"Device A":{"secretKey":"...","durationMs":60000}}`. */
  GATEWAY_CLAIM: 'v1/gateway/claim',
  /** The only topic a provisioning connection (CONNECT user name "provision") may publish to... */
  PROVISION_REQUEST: '/provision/request',
  /** ...and the one it may subscribe to: the answer comes back here. */
  PROVISION_RESPONSE: '/provision/response',
} as const;

/** CONNECT user name of a provisioning connection (ThingsBoard's device provisioning over MQTT): no device credentials. */
export const PROVISION_USERNAME = 'provision';

/** Which name family a device used; answers go back on the same family. */
export type TopicStyle = 'v1' | 'v2';

export type PublishRoute =
  | { readonly kind: 'telemetry' | 'attributes' }
  | { readonly kind: 'attributesRequest' | 'rpcRequest' | 'rpcResponse'; readonly style: TopicStyle; readonly id: string }
  | { readonly kind: 'claim' }
  | { readonly kind: 'gatewayConnect' | 'gatewayDisconnect' | 'gatewayTelemetry' | 'gatewayAttributes' | 'gatewayAttributesRequest' | 'gatewayRpc' | 'gatewayClaim' }
  | { readonly kind: 'unknown' };

const TELEMETRY: PublishRoute = { kind: 'telemetry' };
const ATTRIBUTES: PublishRoute = { kind: 'attributes' };
const UNKNOWN: PublishRoute = { kind: 'unknown' };
// Maps, not object literals: a topic such as "constructor" must not find Object.prototype's members.
const GATEWAY: ReadonlyMap<string, PublishRoute> = new Map<string, PublishRoute>([
  [Topic.GATEWAY_CONNECT, { kind: 'gatewayConnect' }],
  [Topic.GATEWAY_DISCONNECT, { kind: 'gatewayDisconnect' }],
  [Topic.GATEWAY_TELEMETRY, { kind: 'gatewayTelemetry' }],
  [Topic.GATEWAY_ATTRIBUTES, { kind: 'gatewayAttributes' }],
  [Topic.GATEWAY_ATTRIBUTES_REQUEST, { kind: 'gatewayAttributesRequest' }],
  [Topic.GATEWAY_RPC, { kind: 'gatewayRpc' }],
  [Topic.GATEWAY_CLAIM, { kind: 'gatewayClaim' }],
]);
const CLAIM: PublishRoute = { kind: 'claim' };

/** The id after a prefix: one non-empty topic level. */
function idAfter(topic: string, prefix: string): string | undefined {
  if (topic.length === prefix.length || !topic.startsWith(prefix)) return undefined;
  const id = topic.slice(prefix.length);
  return id.includes('/') ? undefined : id;
}

const ID_ROUTES: ReadonlyArray<readonly [string, 'attributesRequest' | 'rpcRequest' | 'rpcResponse', TopicStyle]> = [
  [Topic.ATTRIBUTES_REQUEST, 'attributesRequest', 'v1'],
  [Topic.RPC_REQUEST, 'rpcRequest', 'v1'],
  [Topic.RPC_RESPONSE, 'rpcResponse', 'v1'],
  [Topic.ATTRIBUTES_REQUEST_V2, 'attributesRequest', 'v2'],
  [Topic.RPC_REQUEST_V2, 'rpcRequest', 'v2'],
  [Topic.RPC_RESPONSE_V2, 'rpcResponse', 'v2'],
];

/** What a device's PUBLISH to `topic` means. */
export function classifyPublish(topic: string): PublishRoute {
  // the two hot topics first, by identity of length and content
  if (topic === Topic.TELEMETRY || topic === Topic.TELEMETRY_V2) return TELEMETRY;
  if (topic === Topic.ATTRIBUTES || topic === Topic.ATTRIBUTES_V2) return ATTRIBUTES;
  if (topic.startsWith('v1/gateway/')) return GATEWAY.get(topic) ?? UNKNOWN;
  if (topic === Topic.CLAIM) return CLAIM;
  for (const [prefix, kind, style] of ID_ROUTES) {
    const id = idAfter(topic, prefix);
    if (id !== undefined) return { kind, style, id };
  }
  return UNKNOWN;
}

/**
 * Server-to-device feeds a session can subscribe to, as bits (one number per session keeps idle
 * connections small). Gateway feeds only for gateway devices.
 */
export const Feed = {
  ATTRIBUTES: 1 << 0,
  ATTRIBUTES_V2: 1 << 1,
  ATTRIBUTES_RESPONSE: 1 << 2,
  ATTRIBUTES_RESPONSE_V2: 1 << 3,
  RPC: 1 << 4,
  RPC_V2: 1 << 5,
  RPC_RESPONSE: 1 << 6,
  RPC_RESPONSE_V2: 1 << 7,
  GATEWAY_ATTRIBUTES: 1 << 8,
  GATEWAY_ATTRIBUTES_RESPONSE: 1 << 9,
  GATEWAY_RPC: 1 << 10,
} as const;
export const GATEWAY_FEEDS = Feed.GATEWAY_ATTRIBUTES | Feed.GATEWAY_ATTRIBUTES_RESPONSE | Feed.GATEWAY_RPC;

/** A filter for "every id under prefix": `prefix+` or `prefix#`. */
function anyIdUnder(filter: string, prefix: string): boolean {
  return filter.length === prefix.length + 1 && filter.startsWith(prefix) && (filter.endsWith('+') || filter.endsWith('#'));
}

const EXACT_FEEDS: ReadonlyMap<string, number> = new Map<string, number>([
  [Topic.ATTRIBUTES, Feed.ATTRIBUTES],
  [Topic.ATTRIBUTES_V2, Feed.ATTRIBUTES_V2],
  [Topic.GATEWAY_ATTRIBUTES, Feed.GATEWAY_ATTRIBUTES],
  [Topic.GATEWAY_ATTRIBUTES_RESPONSE, Feed.GATEWAY_ATTRIBUTES_RESPONSE],
  [Topic.GATEWAY_RPC, Feed.GATEWAY_RPC],
]);

const ID_FEEDS: ReadonlyArray<readonly [string, number]> = [
  [Topic.ATTRIBUTES_RESPONSE, Feed.ATTRIBUTES_RESPONSE],
  [Topic.RPC_REQUEST, Feed.RPC],
  [Topic.RPC_RESPONSE, Feed.RPC_RESPONSE],
  [Topic.ATTRIBUTES_RESPONSE_V2, Feed.ATTRIBUTES_RESPONSE_V2],
  [Topic.RPC_REQUEST_V2, Feed.RPC_V2],
  [Topic.RPC_RESPONSE_V2, Feed.RPC_RESPONSE_V2],
];

/**
 * The feed a SUBSCRIBE filter asks for, or 0 when the filter is outside the device API (SUBACK
 * failure). Response and request feeds take the `+` (or `#`) filter ThingsBoard documents, or one
 * concrete id (a device that subscribes per request).
 */
export function classifySubscription(filter: string): number {
  const exact = EXACT_FEEDS.get(filter);
  if (exact !== undefined) return exact;
  for (const [prefix, feed] of ID_FEEDS) {
    if (anyIdUnder(filter, prefix) || (idAfter(filter, prefix) !== undefined && !filter.includes('+') && !filter.includes('#'))) return feed;
  }
  return 0;
}
