import type {
  AttributesEvent,
  DeviceEvent,
  DeviceProfileEvent,
  RuleChainEvent,
  TelemetryEvent,
  TenantProfileEvent,
  ToDeviceRpcRequest,
  ToDeviceRpcResponse,
  ToServerRpcReply,
} from '@rivulet/core';
import { defineChannel, type Broadcast } from './channel';

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
  /** Published after a device profile is saved or deleted (rule engines drop the profile's routing). */
  DEVICE_PROFILES: defineChannel<DeviceProfileEvent>('device-profiles'),
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
 * 1. The caller sends a ToDeviceRpcRequest on TO_DEVICE to the processes holding a session of the
 *    device (Broadcast.sendToDevice), with `replyTo` = its nodeId. No process holds one: the
 *    caller answers "no session" at once.
 * 2. A transport holding a session of that device that can take commands (MQTT: subscribed to the
 *    RPC topic; CoAP: observing /rpc; HTTP: a waiting long poll) sends the command and sends a
 *    pickup on TO_DEVICE_RESPONSE to `replyTo` (respondToCaller): `{requestId, deviceId,
 *    delivered: true}` without `response`. It does so from within its handler when it can, so an
 *    in-process caller knows at once. Transports without such a session stay silent: a caller
 *    that sees no pickup within its pickup window answers "no session".
 *    A one-way request is done with the pickup.
 * 3. A two-way request is done when the device replies: `{requestId, deviceId, delivered: true,
 *    response}`, or when the transport gives up on it (session closed): `{requestId, deviceId, error}`.
 * Requests past their expirationTime are neither delivered nor answered.
 * TO_SERVER_REPLY is sent to the processes holding the device's session (the one that asked
 * holds it while it waits).
 */
export const RpcChannel = {
  /** Sent to the processes holding a session of deviceId; their transports deliver it. */
  TO_DEVICE: defineChannel<ToDeviceRpcRequest>('rpc.to-device'),
  /** The pickup, the device's reply or a delivery failure, sent back to the caller's node (`replyTo`). */
  TO_DEVICE_RESPONSE: defineChannel<ToDeviceRpcResponse>('rpc.to-device.response'),
  /** The rule chain's answer to a device's own RPC request. */
  TO_SERVER_REPLY: defineChannel<ToServerRpcReply>('rpc.to-server.reply'),
} as const;

/** Device-bound pushes other than RPC, sent only to the processes holding the device's session. */
export const DeviceChannel = {
  /**
   * Shared attributes changed or were deleted (the LiveChannel.ATTRIBUTES event of SHARED_SCOPE),
   * for transports to push to subscribed sessions. Sent by whoever stored the change.
   */
  SHARED_ATTRIBUTES: defineChannel<AttributesEvent>('device.shared-attributes'),
  /**
   * Back to the sender of a sendToDevice event: this process no longer holds the device (it was
   * released while the event travelled), so nobody here delivered it. The RPC caller counts these
   * to answer "no session" without waiting out its pickup window.
   */
  UNDELIVERED: defineChannel<UndeliveredEvent>('device.undelivered'),
} as const;

export interface UndeliveredEvent {
  readonly deviceId: string;
  /** The channel the event was sent on, and the event. */
  readonly channel: string;
  readonly event: unknown;
  /** The process that did not deliver it. */
  readonly nodeId: string;
}

/**
 * Sends a transport's answer to a ToDeviceRpcRequest (pickup, reply or failure) to the process
 * that asked, or to every process when the request did not say (`replyTo` absent).
 */
export function respondToCaller(broadcast: Broadcast, replyTo: string | undefined, response: ToDeviceRpcResponse): void {
  if (replyTo === undefined) broadcast.publish(RpcChannel.TO_DEVICE_RESPONSE, response);
  else broadcast.sendToNode(replyTo, RpcChannel.TO_DEVICE_RESPONSE, response);
}
