import type { DeviceInfo } from './device-api';
import type { JsonValue } from './msg';

/**
 * Server-side RPC (REST or a rule node -> device) and client-side RPC replies (rule chain -> device)
 * travel on the Broadcast seam, so the process that holds the device's session (a transport) need
 * not be the one that asked (the API, the rule engine). With Kafka, the broadcast crosses processes.
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
  /** ToDeviceRpcRequest: every transport looks for a session of deviceId and delivers it. */
  TO_DEVICE: 'rpc.to-device',
  /** ToDeviceRpcResponse: the device's reply (or a delivery failure) back to whoever asked. */
  TO_DEVICE_RESPONSE: 'rpc.to-device.response',
  /** ToServerRpcReply: the rule chain's answer to a device's own RPC request. */
  TO_SERVER_REPLY: 'rpc.to-server.reply',
} as const;

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
