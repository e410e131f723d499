import type {
  AttributesEvent,
  DeviceEvent,
  RuleChainEvent,
  TelemetryEvent,
  TenantProfileEvent,
  ToDeviceRpcRequest,
  ToDeviceRpcResponse,
  ToServerRpcReply,
} from '@rivulet/core';
import { defineChannel } from './channel';

/**
 * Live events from whoever writes storage to every API instance (WebSocket subscriptions) and cache.
 * Best effort: a subscriber that misses one re-reads storage.
 */
export const LiveChannel = {
  /** Published after points are stored. */
  TELEMETRY: defineChannel<TelemetryEvent>('telemetry'),
  /** Published after attributes are stored or deleted. */
  ATTRIBUTES: defineChannel<AttributesEvent>('attributes'),
  /** Published after a device is deleted or its credentials change (auth caches drop it). */
  DEVICES: defineChannel<DeviceEvent>('devices'),
  /** Published after a rule chain is saved, made root, deleted or its node debug changed (rule engines reload it). */
  RULE_CHAINS: defineChannel<RuleChainEvent>('rule-chains'),
  /** Published after a tenant profile is saved or deleted, or a tenant is created, changes profile or is deleted (limit caches reload). */
  TENANT_PROFILES: defineChannel<TenantProfileEvent>('tenant-profiles'),
} as const;

/**
 * Server-side RPC (REST or a rule node -> device) and client-side RPC replies (rule chain -> device),
 * so the process that holds the device's session (a transport) need not be the one that asked
 * (the API, the rule engine).
 *
 * The exchange, which every transport follows (createRpcCaller is the asking side):
 * 1. The caller publishes a ToDeviceRpcRequest on TO_DEVICE.
 * 2. A transport holding a session of that device that can take commands (MQTT: subscribed to the
 *    RPC topic; CoAP: observing /rpc) sends the command and publishes a pickup on
 *    TO_DEVICE_RESPONSE: `{requestId, deviceId, delivered: true}` without `response`. It does so
 *    from within its handler when it can, so an in-process caller knows at once. Transports
 *    without such a session stay silent: a caller that sees no pickup answers "no session".
 *    A one-way request is done with the pickup.
 * 3. A two-way request is done when the device replies: `{requestId, deviceId, delivered: true,
 *    response}`, or when the transport gives up on it (session closed): `{requestId, deviceId, error}`.
 * Requests past their expirationTime are neither delivered nor answered.
 */
export const RpcChannel = {
  /** Every transport looks for a session of deviceId and delivers it. */
  TO_DEVICE: defineChannel<ToDeviceRpcRequest>('rpc.to-device'),
  /** The device's reply (or a delivery failure) back to whoever asked. */
  TO_DEVICE_RESPONSE: defineChannel<ToDeviceRpcResponse>('rpc.to-device.response'),
  /** The rule chain's answer to a device's own RPC request. */
  TO_SERVER_REPLY: defineChannel<ToServerRpcReply>('rpc.to-server.reply'),
} as const;
