import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import { ConflictError, TenantLimitError, silentLogger, type DeviceEvent, type DeviceInfo, type GatewayDeviceService, type Logger, type TenantLimitsSource } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';

/**
 * Devices behind gateways, for the transports' gateway API: found by name in the gateway's tenant,
 * created on first sight (ThingsBoard's getOrCreateDevice, which also records the gateway in the
 * device's additionalInfo as lastConnectedGateway). Cached, since a gateway names its devices in
 * every payload; concurrent first sightings of one name share one lookup.
 */
export function createGatewayDeviceService(options: {
  storage: Storage;
  broadcast: Broadcast;
  /** A new device past the tenant's maxDevices is refused (TenantLimitError), as over the REST API. */
  tenantLimits?: TenantLimitsSource;
  logger?: Logger;
  maxEntries?: number;
}): GatewayDeviceService & { close(): void } {
  const { storage, broadcast } = options;
  const logger = options.logger ?? silentLogger;
  /** Gateways whose refusal was logged (once each, then at debug level). */
  const refusalsLogged = new Set<string>();
  const maxEntries = options.maxEntries ?? 100_000;
  const cache = new Map<string, DeviceInfo>();
  const inflight = new Map<string, Promise<DeviceInfo>>();

  const unsubscribe = broadcast.subscribe(LiveChannel.DEVICES, (e) => {
    const ev = e as DeviceEvent;
    if (ev.kind === 'created' || ev.kind === 'credentials') return;
    for (const [k, d] of cache) if (d.deviceId === ev.deviceId) cache.delete(k);
  });

  const info = (d: { id: string; tenantId: string; name: string; type: string }): DeviceInfo => ({
    tenantId: d.tenantId,
    deviceId: d.id,
    deviceName: d.name,
    deviceType: d.type,
  });

  async function lookup(gateway: DeviceInfo, name: string, type: string): Promise<DeviceInfo> {
    const found = await storage.devices.findByName(gateway.tenantId, name);
    if (found) return info(found);
    try {
      const maxDevices = options.tenantLimits?.forTenant(gateway.tenantId).maxDevices ?? 0;
      const { device } = await storage.devices.create(
        { tenantId: gateway.tenantId, name, type, additionalInfo: { lastConnectedGateway: gateway.deviceId } },
        undefined,
        { maxDevices },
      );
      const ev: DeviceEvent = { tenantId: gateway.tenantId, deviceId: device.id, kind: 'created' };
      broadcast.publish(LiveChannel.DEVICES, ev);
      return info(device);
    } catch (e) {
      if (e instanceof TenantLimitError) {
        const first = !refusalsLogged.has(gateway.deviceId);
        if (first && refusalsLogged.size < 100_000) refusalsLogged.add(gateway.deviceId);
        logger[first ? 'warn' : 'debug']({ tenantId: gateway.tenantId, gatewayId: gateway.deviceId, device: name, maxDevices: e.value }, 'gateway device refused: tenant at its device limit');
      }
      // created meanwhile by another process
      if (e instanceof ConflictError) {
        const again = await storage.devices.findByName(gateway.tenantId, name);
        if (again) return info(again);
      }
      throw e;
    }
  }

  return {
    async getOrCreateDevice(gateway, name, type) {
      const key = `${gateway.tenantId}\u0000${name}`;
      const hit = cache.get(key);
      if (hit) return hit;
      let p = inflight.get(key);
      if (!p) {
        p = lookup(gateway, name, type).finally(() => inflight.delete(key));
        inflight.set(key, p);
      }
      const device = await p;
      if (cache.size >= maxEntries) cache.clear();
      cache.set(key, device);
      return device;
    },
    close: unsubscribe,
  };
}
