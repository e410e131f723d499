import { ErrorCode, RivuletError } from '@rivulet/core';

/**
 * The `outbound` capability: the only way a node calls out of the platform (REST API call, MQTT
 * publish, any later one). The server backs it with @rivulet/outbound, which checks every address
 * it connects to against the deployment's policy; test runs get a recording one that never connects.
 */
export interface OutboundService {
  /** One HTTP exchange, redirects followed (each hop checked). Rejects with OutboundDeniedError when a hop is denied. */
  http(request: OutboundHttpRequest): Promise<OutboundHttpResponse>;
  /** A connection to an MQTT broker, opened on the first publish and kept (reconnecting) until close(). */
  mqtt(options: OutboundMqttOptions): OutboundMqttClient;
  /** Resolves a host and rejects with OutboundDeniedError unless an address it resolves to is allowed. */
  check(host: string): Promise<void>;
  /**
   * The policy's answer without DNS: for a literal address, or a host name a list entry names; null
   * when only resolving the name can tell. Test runs use it to say whether a recorded call would pass.
   */
  precheck?(host: string): { allowed: true } | { allowed: false; reason: string } | null;
}

export interface OutboundHttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** For the whole exchange, redirects included; past it the call rejects with an Error named TimeoutError. */
  timeoutMs: number;
  /** A longer response body rejects with PAYLOAD_TOO_LARGE. */
  maxResponseBytes: number;
  /** Redirects followed at most (default 5); one more is an error. */
  maxRedirects?: number;
}

export interface OutboundHttpResponse {
  status: number;
  statusText: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** The URL that answered (after redirects). */
  url: string;
  /** Set by a test run's recording capability: nothing was sent, this answer is made up. */
  simulated?: boolean;
}

export interface OutboundMqttOptions {
  host: string;
  port: number;
  ssl: boolean;
  protocolVersion: 3 | 4 | 5;
  clientId: string;
  clean: boolean;
  /** How long a publish waits for the connection, and then for the broker's acknowledgement. */
  connectTimeoutMs: number;
  reconnectPeriodMs?: number;
  username?: string;
  password?: string;
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
}

export interface OutboundMqttClient {
  /** Resolves when the broker acknowledged (QoS 1/2) or the packet was written (QoS 0). */
  publish(topic: string, payload: string, options: { qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
  close(): Promise<void>;
}

/** A call the outbound policy refused; nothing was connected. */
export class OutboundDeniedError extends RivuletError {
  readonly address: string;
  constructor(options: { host: string; address: string; reason: string }) {
    const who = options.host && options.host !== options.address ? `${options.host} (${options.address})` : options.address;
    super(ErrorCode.FORBIDDEN, `outbound call to ${who} denied by RIVULET_OUTBOUND_* policy: ${options.reason}`, { details: { host: options.host, address: options.address } });
    this.name = 'OutboundDeniedError';
    this.address = options.address;
  }
}
