import type { AttributeKv, AttributeScope, TsKv } from './kv';

/** Events carried on @rivulet/broadcast's LiveChannel (the channel definitions live there). */

/** A tenant profile changed (`profileId`), or which profile a tenant has (`tenantId`). */
export type TenantProfileEvent =
  | { readonly kind: 'profile'; readonly profileId: string }
  | { readonly kind: 'tenant'; readonly tenantId: string };

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

/**
 * A device profile was saved or deleted: whoever caches a profile (the rule engines' routing of a
 * device's messages to its profile's chain) drops it. A device moved to another profile is a
 * DeviceEvent 'updated'.
 */
export interface DeviceProfileEvent {
  readonly tenantId: string;
  readonly profileId: string;
  readonly kind: 'saved' | 'deleted';
}

export interface DeviceEvent {
  readonly tenantId: string;
  readonly deviceId: string;
  readonly kind: 'created' | 'updated' | 'deleted' | 'credentials';
}

/**
 * A rule chain changed. 'saved', 'root' and 'deleted': engines drop the tenant's compiled chain and
 * load the new one on the next message (messages already inside the old one finish there).
 * 'debug': a node's debug settings changed; engines apply them in place, without a reload.
 */
export interface RuleChainEvent {
  readonly tenantId: string;
  readonly chainId: string;
  readonly kind: 'saved' | 'root' | 'deleted' | 'debug';
  /** kind 'debug': the node and its new settings. */
  readonly nodeIndex?: number;
  readonly debug?: { readonly failuresEnabled: boolean; readonly allEnabled: boolean; readonly allEnabledUntil: number };
}
