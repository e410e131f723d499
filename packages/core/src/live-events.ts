import type { AttributeKv, AttributeScope, TsKv } from './kv';

/**
 * Live events carried by the Broadcast seam (packages/queue) from whoever writes storage to every
 * API instance (WebSocket subscriptions) and cache. Best effort: a subscriber that misses one re-reads storage.
 */
export const LiveChannel = {
  /** TelemetryEvent, published after points are stored. */
  TELEMETRY: 'telemetry',
  /** AttributesEvent, published after attributes are stored or deleted. */
  ATTRIBUTES: 'attributes',
  /** DeviceEvent, published after a device is deleted or its credentials change (auth caches drop it). */
  DEVICES: 'devices',
} as const;

export interface TelemetryEvent {
  readonly entityId: string;
  readonly points: ReadonlyArray<TsKv>;
}

export interface AttributesEvent {
  readonly entityId: string;
  readonly scope: AttributeScope;
  readonly values: ReadonlyArray<AttributeKv>;
  readonly deleted?: ReadonlyArray<string>;
}

export interface DeviceEvent {
  readonly tenantId: string;
  readonly deviceId: string;
  readonly kind: 'created' | 'updated' | 'deleted' | 'credentials';
}
