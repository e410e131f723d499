import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import { isUuid, type DeviceEvent, type Logger, type RuleChainEvent } from '@rivulet/core';
import {
  createOwnershipCache,
  createRuleChainResolver,
  type DebugSink,
  type DeviceInfo,
  type DeviceLookup,
  type EntityOwnership,
  type NodeRegistry,
  type RuleNodeServices,
  type TenantServices,
} from '@rivulet/rule-engine';
import { createScriptSandbox, type ScriptSandboxOptions } from '@rivulet/rule-nodes';
import type { Storage } from '@rivulet/storage';
import { toRuleChainExport } from '@rivulet/api';
import { createCachedDeviceProfileLookup } from './device-profile-lookup';

/**
 * The rule-node capabilities this server provides beyond storage: device and device profile lookups, other chains for
 * the rule chain node, and the script sandbox. `close()` stops them (the sandbox's worker, the
 * compiled nested chains' timers, the subscriptions).
 */
export function createNodeCapabilities(options: {
  storage: Storage;
  broadcast: Broadcast;
  registry: NodeRegistry;
  logger: Logger;
  /** The services nested chains run with, bound to their tenant (they include these capabilities). */
  servicesFor: TenantServices;
  /** Debug traces of nested chains go where the engine's go (read when a trace is recorded). */
  debugSink: () => DebugSink | undefined;
  scripts?: ScriptSandboxOptions;
}): { services: Pick<RuleNodeServices, 'devices' | 'deviceProfiles' | 'ruleChains' | 'scripts'>; ownership: EntityOwnership; close(): Promise<void> } {
  const devices = createCachedDeviceLookup(options);
  // The device profile node's profiles (their alarm rules).
  const deviceProfiles = createCachedDeviceProfileLookup(options);
  const ownership = createEntityOwnership(options);
  const scripts = createScriptSandbox({ ...options.scripts, logger: options.logger });
  const ruleChains = createRuleChainResolver({
    registry: options.registry,
    servicesFor: options.servicesFor,
    logger: options.logger,
    debugSink: { record: (t) => options.debugSink()?.record(t) },
    async load(tenantId, chainId) {
      const rec = await options.storage.ruleChains.get(tenantId, chainId);
      return rec ? { json: toRuleChainExport(rec) } : null;
    },
  });
  // A saved or deleted chain is compiled again on its next call (debug switches too: nested chains reload).
  const unsubscribe = options.broadcast.subscribe(LiveChannel.RULE_CHAINS, (e) => {
    const event = e as RuleChainEvent;
    if (event && typeof event.tenantId === 'string') ruleChains.invalidate(event.tenantId, event.chainId);
  });
  return {
    services: { devices, deviceProfiles, ruleChains, scripts },
    ownership,
    async close() {
      unsubscribe();
      devices.close();
      deviceProfiles.close();
      ownership.close();
      await ruleChains.close();
      await scripts.close();
    },
  };
}

/**
 * Device lookups for rule nodes (originator fields, device type switch), cached so a chain does not
 * read the database per message. An entry lives `ttlMs` at most, and is dropped at once when the
 * API announces the device changed (LiveChannel.DEVICES). A missing device is not cached.
 */
export function createCachedDeviceLookup(options: { storage: Storage; broadcast: Broadcast; ttlMs?: number; maxEntries?: number }): DeviceLookup & { close(): void } {
  const ttlMs = options.ttlMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const cache = new Map<string, { at: number; device: Promise<DeviceInfo | null> }>();
  const unsubscribe = options.broadcast.subscribe(LiveChannel.DEVICES, (e) => {
    const event = e as DeviceEvent;
    if (event && typeof event.deviceId === 'string') cache.delete(`${event.tenantId}/${event.deviceId}`);
  });
  return {
    get(tenantId, deviceId) {
      // Keyed by tenant too: a device is only ever found for its own tenant.
      const key = `${tenantId}/${deviceId}`;
      const hit = cache.get(key);
      const now = Date.now();
      if (hit && now - hit.at < ttlMs) return hit.device;
      const device = options.storage.devices.get(tenantId, deviceId).then((d) =>
        d ? { id: d.id, name: d.name, type: d.type, label: d.label, createdTime: d.createdTime, customerId: d.customerId } : null,
      );
      cache.delete(key);
      cache.set(key, { at: now, device });
      if (cache.size > maxEntries) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      // Misses and failures are asked again next time.
      device.then(
        (d) => {
          if (!d && cache.get(key)?.device === device) cache.delete(key);
        },
        () => {
          if (cache.get(key)?.device === device) cache.delete(key);
        },
      );
      return device;
    },
    close: unsubscribe,
  };
}

/**
 * Which tenant an entity belongs to, for the tenant-bound rule-node services: the tenant itself, one
 * of its devices or one of its customers (the entities that carry data here). Cached (a hit answers without an
 * await); a device's entry is dropped when the API announces it created, changed or deleted.
 */
export function createEntityOwnership(options: { storage: Storage; broadcast: Broadcast }): EntityOwnership & { close(): void } {
  const cache = createOwnershipCache({
    // Entity ids are uuids in storage: anything else names nothing.
    // A device or a customer of the tenant (the device profile node reads a customer's attributes for dynamic values).
    lookup: async (tenantId, entityId) =>
      isUuid(entityId) && ((await options.storage.devices.get(tenantId, entityId)) !== null || (await options.storage.customers.get(tenantId, entityId)) !== null),
  });
  const unsubscribe = options.broadcast.subscribe(LiveChannel.DEVICES, (e) => {
    const event = e as DeviceEvent;
    if (event && typeof event.deviceId === 'string' && typeof event.tenantId === 'string') cache.invalidate(event.tenantId, event.deviceId);
  });
  return { owns: (tenantId, entityId) => cache.owns(tenantId, entityId), close: unsubscribe };
}
