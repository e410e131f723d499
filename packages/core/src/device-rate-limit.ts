import { silentLogger, type Logger } from './logger';
import type { TenantLimitsSource } from './tenant-limits';

/**
 * Device message rates, per device and per tenant, for every transport (ThingsBoard's
 * transportDeviceMsgRateLimit and transportTenantMsgRateLimit). One instance is shared by MQTT,
 * HTTP and CoAP, so a device (and a tenant) has one budget whatever protocol it uses.
 *
 * Each key is GCRA (the generic cell rate algorithm: a token bucket kept as one number, the
 * theoretical arrival time): `rate` messages per second with a burst of `rate`. A message is
 * admitted at the later of its device's and its tenant's next slot. The limits are read from the
 * TenantLimitsSource on every reservation, so a changed tenant profile applies at once.
 *
 * What a transport does with the answer is its own (docs/operations.md): MQTT holds the PUBACK
 * (and aedes then reads nothing more from the connection), CoAP holds the answer, both up to their
 * `maxWaitMs`; HTTP (maxWaitMs 0) answers 429. A refused message reserves nothing, so a client
 * far over its rate cannot push its next slot further than `maxWaitMs` ahead: what is held per
 * tenant is bounded by its rate times `maxWaitMs`.
 *
 * Isolation: a tenant's key and its devices' keys move only with that tenant's messages; the
 * limiter holds nothing itself (a wait is a time the caller waits for, on its own connection).
 */
export type RateLimitReason = 'device' | 'tenant';

export type RateDecision =
  /** Go at once (waitMs 0) or after waitMs; `reason` says which limit made it wait. */
  | { readonly ok: true; readonly waitMs: number; readonly reason?: RateLimitReason }
  /** Refused: the message would wait longer than maxWaitMs. Retry in retryAfterMs at the earliest. */
  | { readonly ok: false; readonly retryAfterMs: number; readonly reason: RateLimitReason; readonly limit: number };

export interface RateLimitedDevice {
  readonly tenantId: string;
  readonly deviceId: string;
}

/** One transport's view of the shared limiter: its own longest wait and its own counters. */
export interface TransportRateLimit {
  /** Reserves a slot for one message of `device` at `now` (epoch ms). */
  reserve(device: RateLimitedDevice, now: number): RateDecision;
}

export interface RateLimitCounts {
  /** Messages admitted late (held), by the limit that held them. */
  delayed: Record<RateLimitReason, number>;
  /** Messages refused, by the limit that refused them. */
  refused: Record<RateLimitReason, number>;
}

export interface RateLimitStats {
  /** Per transport name (as given to forTransport). */
  transports: Record<string, RateLimitCounts>;
  /** Devices and tenants with a budget not yet full again. */
  devicesTracked: number;
  tenantsTracked: number;
}

export interface DeviceRateLimiter {
  forTransport(name: string, options: { maxWaitMs: number }): TransportRateLimit;
  stats(): RateLimitStats;
}

export interface DeviceRateLimiterOptions {
  limits: TenantLimitsSource;
  logger?: Logger;
  /** Devices (and, separately, tenants) remembered; past it the least recently seen starts again with a full burst. Default 100,000. */
  maxKeys?: number;
  /** A device or tenant over its limit is logged at most once per this period (warn), with the count since. Default 60 s. */
  logIntervalMs?: number;
}

const ALLOW: RateDecision = Object.freeze({ ok: true, waitMs: 0 });
const PRUNE_INTERVAL_MS = 10_000;

/**
 * GCRA state for one kind of key. The map's order is least recently seen first (a key is
 * re-inserted when used), which is what eviction past maxKeys takes.
 */
class Gcra {
  readonly tat = new Map<string, number>();
  constructor(private readonly maxKeys: number) {}

  /** When the next message of `key` may go at `rate`, and the arrival time to store if it does. */
  slot(key: string, rate: number, now: number): { at: number; next: number } {
    const interval = 1000 / rate;
    // burst tolerance: `rate` messages back to back
    const tolerance = interval * Math.max(0, Math.ceil(rate) - 1);
    const t = Math.max(this.tat.get(key) ?? now, now);
    return { at: t - tolerance, next: t + interval };
  }

  commit(key: string, next: number): void {
    this.tat.delete(key);
    if (this.tat.size >= this.maxKeys) this.tat.delete(this.tat.keys().next().value as string);
    this.tat.set(key, next);
  }

  /** Keys whose budget is full again are as good as absent. */
  prune(now: number): void {
    for (const [key, t] of this.tat) if (t <= now) this.tat.delete(key);
  }
}

export function createDeviceRateLimiter(options: DeviceRateLimiterOptions): DeviceRateLimiter {
  const { limits } = options;
  const logger = (options.logger ?? silentLogger).child({ component: 'rate-limit' });
  const maxKeys = options.maxKeys ?? 100_000;
  const logIntervalMs = options.logIntervalMs ?? 60_000;
  const devices = new Gcra(maxKeys);
  const tenants = new Gcra(maxKeys);
  const counts = new Map<string, RateLimitCounts>();
  /** Last warn per `${reason}:${id}` and the events since. */
  const logged = new Map<string, { at: number; since: number }>();
  let lastPrune = 0;

  function prune(now: number): void {
    lastPrune = now;
    devices.prune(now);
    tenants.prune(now);
    // kept a second period, so the next line can say how many were not logged
    for (const [key, l] of logged) if (now - l.at >= 2 * logIntervalMs) logged.delete(key);
  }

  /** Logs a device or tenant over its limit once per logIntervalMs, not per message. */
  function report(transport: string, device: RateLimitedDevice, reason: RateLimitReason, limit: number, outcome: 'delayed' | 'refused', now: number): void {
    const key = reason === 'device' ? `d:${device.deviceId}` : `t:${device.tenantId}`;
    const l = logged.get(key);
    if (l !== undefined && now - l.at < logIntervalMs) {
      l.since++;
      return;
    }
    if (logged.size >= maxKeys) logged.clear();
    logged.set(key, { at: now, since: 0 });
    const fields: Record<string, unknown> = { tenantId: device.tenantId, transport, reason, limitPerSecond: limit, outcome };
    if (reason === 'device') fields.deviceId = device.deviceId;
    if (l !== undefined) fields.eventsSinceLastLog = l.since;
    fields.note = `logged at most once per ${Math.round(logIntervalMs / 1000)} s per ${reason}; the rate limit stats have the counts`;
    logger.warn(fields, reason === 'device' ? 'device message rate limit exceeded' : 'tenant message rate limit exceeded');
  }

  return {
    forTransport(name, { maxWaitMs }) {
      const c: RateLimitCounts = counts.get(name) ?? { delayed: { device: 0, tenant: 0 }, refused: { device: 0, tenant: 0 } };
      counts.set(name, c);
      return {
        reserve(device, now) {
          const l = limits.forTenant(device.tenantId);
          const deviceRate = l.transportDeviceMsgRateLimit;
          const tenantRate = l.transportTenantMsgRateLimit;
          if (!(deviceRate > 0) && !(tenantRate > 0)) return ALLOW;
          if (now - lastPrune >= PRUNE_INTERVAL_MS) prune(now);
          const d = deviceRate > 0 ? devices.slot(device.deviceId, deviceRate, now) : undefined;
          const t = tenantRate > 0 ? tenants.slot(device.tenantId, tenantRate, now) : undefined;
          const dAt = d?.at ?? -Infinity;
          const tAt = t?.at ?? -Infinity;
          const waitMs = Math.max(0, dAt - now, tAt - now);
          if (waitMs === 0) {
            if (d) devices.commit(device.deviceId, d.next);
            if (t) tenants.commit(device.tenantId, t.next);
            return ALLOW;
          }
          const reason: RateLimitReason = dAt >= tAt ? 'device' : 'tenant';
          const limit = reason === 'device' ? deviceRate : tenantRate;
          if (waitMs > maxWaitMs) {
            // nothing reserved: a client far ahead cannot push its next slot further
            c.refused[reason]++;
            report(name, device, reason, limit, 'refused', now);
            return { ok: false, retryAfterMs: waitMs - maxWaitMs, reason, limit };
          }
          if (d) devices.commit(device.deviceId, d.next);
          if (t) tenants.commit(device.tenantId, t.next);
          c.delayed[reason]++;
          report(name, device, reason, limit, 'delayed', now);
          return { ok: true, waitMs, reason };
        },
      };
    },

    stats() {
      const transports: Record<string, RateLimitCounts> = {};
      for (const [name, c] of counts) transports[name] = { delayed: { ...c.delayed }, refused: { ...c.refused } };
      return { transports, devicesTracked: devices.tat.size, tenantsTracked: tenants.tat.size };
    },
  };
}
