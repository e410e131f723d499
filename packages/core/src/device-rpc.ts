import type { DeviceInfo } from './device-api';
import type { JsonValue } from './msg';

/** Server-side RPC and client-side RPC replies, carried on @rivulet/broadcast's RpcChannel (which documents the exchange). */

export interface ToDeviceRpcRequest {
  /** Unique id of this call (uuid); transports map it to the small integer ids devices see. */
  readonly requestId: string;
  readonly tenantId: string;
  readonly deviceId: string;
  readonly method: string;
  readonly params: JsonValue;
  /** One-way: no reply is awaited; delivered counts as done. */
  readonly oneway: boolean;
  /** Epoch ms after which the call is given up (REST answers 504). */
  readonly expirationTime: number;
  /**
   * The process (broadcast nodeId) that asked: transports send the pickup and the reply there
   * (sendToNode). Set by createRpcCaller; absent, they publish them to every process.
   */
  readonly replyTo?: string;
}

export interface ToDeviceRpcResponse {
  readonly requestId: string;
  readonly deviceId: string;
  /** The device's reply (two-way), or null when a one-way request was delivered. */
  readonly response?: JsonValue;
  /** Delivery failed (e.g. the device went away); the caller answers with an error. */
  readonly error?: string;
  /** True when some transport took the request (a session exists). */
  readonly delivered?: boolean;
}

export interface ToServerRpcReply {
  readonly deviceId: string;
  /** The id the device used in its request topic or path. */
  readonly requestId: string;
  /**
   * The transport session the request came from (the message's `sessionId` metadata), so the
   * reply reaches that connection only; absent: every session of the device that asked with this id.
   */
  readonly sessionId?: string;
  readonly body: JsonValue;
}

/** How a server-side RPC call ended. */
export type RpcOutcome =
  /** One-way: a session took it. Two-way: the device replied with `response`. */
  | { readonly kind: 'delivered'; readonly response?: JsonValue }
  /** No transport picked it up within the pickup window: the device has no session able to take it. */
  | { readonly kind: 'no-session' }
  /** Picked up, but no reply before expirationTime. */
  | { readonly kind: 'timeout' }
  /** The transport gave up on it (e.g. the device disconnected before replying). */
  | { readonly kind: 'error'; readonly error: string };

/**
 * Transports report the life of device sessions here; the server's implementation maintains the
 * server-scope attributes active, lastConnectTime, lastDisconnectTime, lastActivityTime and sends
 * CONNECT_EVENT / DISCONNECT_EVENT / ACTIVITY_EVENT / INACTIVITY_EVENT to the rule engine.
 */
export interface DeviceStateReporter {
  onConnect(device: DeviceInfo): void;
  onDisconnect(device: DeviceInfo): void;
  /** Cheap to call per message: implementations coalesce. */
  onActivity(device: DeviceInfo): void;
}

export const noopDeviceStateReporter: DeviceStateReporter = {
  onConnect() {},
  onDisconnect() {},
  onActivity() {},
};
