import type { SimDevice } from '../devices';

/** What a device sends: ThingsBoard's device API names. */
export type SendKind = 'telemetry' | 'attributes';

export type Done = (err?: Error) => void;

/** One connected device. `send` calls `done` once the platform acknowledged (PUBACK / 200 / 2.01). */
export interface DeviceConnection {
  send(kind: SendKind, payload: string, done: Done): void;
  close(): Promise<void>;
}

/** A protocol client: connects devices; `close` releases what its connections share (agents, sockets). */
export interface ProtocolClient {
  readonly protocol: 'mqtt' | 'http' | 'coap';
  connect(device: SimDevice): Promise<DeviceConnection>;
  close(): Promise<void>;
}

export class SendError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SendError';
    this.code = code;
  }
}

/** `{token}`, `{name}`, `{id}` placeholders of a device. */
export function expand(template: string, device: SimDevice): string {
  return template.replace(/\{(token|name|id)\}/g, (_m, k: 'token' | 'name' | 'id') => device[k] ?? '');
}
