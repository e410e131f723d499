import { describe, expect, it } from 'vitest';
import { createDeviceRateLimiter } from './device-rate-limit';
import type { Logger } from './logger';
import type { TenantLimits, TenantLimitsSource } from './tenant-limits';

type RateLimits = Pick<TenantLimits, 'transportDeviceMsgRateLimit' | 'transportTenantMsgRateLimit'>;

/** A limits source per tenant (as tenant profiles give), changeable between calls. */
function limitsOf(byTenant: Record<string, RateLimits>): TenantLimitsSource {
  return { forTenant: (id) => (byTenant[id] ?? { transportDeviceMsgRateLimit: 0, transportTenantMsgRateLimit: 0 }) as TenantLimits };
}

function recordingLogger(): { logger: Logger; lines: Array<{ msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (fields, msg) => lines.push({ msg, fields }),
    error() {},
    child: () => logger,
  };
  return { logger, lines };
}

const A1 = { tenantId: 'A', deviceId: 'a1' };
const A2 = { tenantId: 'A', deviceId: 'a2' };
const B1 = { tenantId: 'B', deviceId: 'b1' };

describe('device rate limiter (GCRA per device and per tenant)', () => {
  it('per device: a burst of `rate` goes at once, the next wait 1/rate apart; other devices have their own budget', () => {
    const limiter = createDeviceRateLimiter({ limits: limitsOf({ A: { transportDeviceMsgRateLimit: 4, transportTenantMsgRateLimit: 0 } }) });
    const mqtt = limiter.forTransport('mqtt', { maxWaitMs: 10_000 });
    expect([0, 0, 0, 0].map(() => mqtt.reserve(A1, 0))).toEqual(Array(4).fill({ ok: true, waitMs: 0 }));
    expect(mqtt.reserve(A1, 0)).toEqual({ ok: true, waitMs: 250, reason: 'device' });
    expect(mqtt.reserve(A1, 0)).toEqual({ ok: true, waitMs: 500, reason: 'device' });
    expect(mqtt.reserve(A2, 0)).toEqual({ ok: true, waitMs: 0 });
    // a second later four more slots have come, two of them taken by the held messages
    expect([1, 2, 3].map(() => mqtt.reserve(A1, 1000))).toEqual([
      { ok: true, waitMs: 0 },
      { ok: true, waitMs: 0 },
      { ok: true, waitMs: 250, reason: 'device' },
    ]);
    expect(limiter.stats().transports.mqtt).toEqual({ delayed: { device: 3, tenant: 0 }, refused: { device: 0, tenant: 0 } });
  });

  it('per tenant: all devices of a tenant share its budget; another tenant is untouched', () => {
    const limiter = createDeviceRateLimiter({
      limits: limitsOf({ A: { transportDeviceMsgRateLimit: 0, transportTenantMsgRateLimit: 2 }, B: { transportDeviceMsgRateLimit: 0, transportTenantMsgRateLimit: 2 } }),
    });
    const http = limiter.forTransport('http', { maxWaitMs: 0 });
    expect(http.reserve(A1, 0)).toEqual({ ok: true, waitMs: 0 });
    expect(http.reserve(A2, 0)).toEqual({ ok: true, waitMs: 0 });
    expect(http.reserve(A1, 0)).toEqual({ ok: false, retryAfterMs: 500, reason: 'tenant', limit: 2 });
    expect(http.reserve(A2, 0)).toEqual({ ok: false, retryAfterMs: 500, reason: 'tenant', limit: 2 });
    expect(http.reserve(B1, 0)).toEqual({ ok: true, waitMs: 0 });
    expect(http.reserve(B1, 0)).toEqual({ ok: true, waitMs: 0 });
    expect(http.reserve(A1, 500)).toEqual({ ok: true, waitMs: 0 });
    expect(limiter.stats().transports.http?.refused).toEqual({ device: 0, tenant: 2 });
  });

  it('one budget across transports: what a device used over MQTT counts on HTTP and CoAP', () => {
    const limiter = createDeviceRateLimiter({ limits: limitsOf({ A: { transportDeviceMsgRateLimit: 2, transportTenantMsgRateLimit: 0 } }) });
    const mqtt = limiter.forTransport('mqtt', { maxWaitMs: 10_000 });
    const http = limiter.forTransport('http', { maxWaitMs: 0 });
    const coap = limiter.forTransport('coap', { maxWaitMs: 10_000 });
    mqtt.reserve(A1, 0);
    mqtt.reserve(A1, 0);
    expect(http.reserve(A1, 0)).toMatchObject({ ok: false, reason: 'device' });
    expect(coap.reserve(A1, 0)).toEqual({ ok: true, waitMs: 500, reason: 'device' });
  });

  it('the later of the device and tenant slots wins, and the reason says which', () => {
    const limiter = createDeviceRateLimiter({ limits: limitsOf({ A: { transportDeviceMsgRateLimit: 1, transportTenantMsgRateLimit: 10 } }) });
    const coap = limiter.forTransport('coap', { maxWaitMs: 10_000 });
    expect(coap.reserve(A1, 0)).toEqual({ ok: true, waitMs: 0 });
    expect(coap.reserve(A1, 0)).toEqual({ ok: true, waitMs: 1000, reason: 'device' });
    for (let i = 0; i < 8; i++) expect(coap.reserve({ tenantId: 'A', deviceId: `x${i}` }, 0)).toEqual({ ok: true, waitMs: 0 });
    // the tenant's burst of 10 is spent (a1's held message took a slot too)
    expect(coap.reserve(A2, 0)).toEqual({ ok: true, waitMs: 100, reason: 'tenant' });
  });

  it('a refusal reserves nothing, so a client far ahead cannot push its next slot further than maxWaitMs', () => {
    const limiter = createDeviceRateLimiter({ limits: limitsOf({ A: { transportDeviceMsgRateLimit: 1, transportTenantMsgRateLimit: 1 } }) });
    const coap = limiter.forTransport('coap', { maxWaitMs: 1500 });
    expect(coap.reserve(A1, 0)).toEqual({ ok: true, waitMs: 0 });
    expect(coap.reserve(A1, 0)).toEqual({ ok: true, waitMs: 1000, reason: 'device' });
    for (let i = 0; i < 100; i++) expect(coap.reserve(A1, 0)).toMatchObject({ ok: false, retryAfterMs: 500 });
    expect(coap.reserve(A1, 500)).toEqual({ ok: true, waitMs: 1500, reason: 'device' });
    expect(limiter.stats().transports.coap).toEqual({ delayed: { device: 2, tenant: 0 }, refused: { device: 100, tenant: 0 } });
  });

  it('limits are read on every reservation (a changed tenant profile applies at once); 0 is no limit', () => {
    const a: { transportDeviceMsgRateLimit: number; transportTenantMsgRateLimit: number } = { transportDeviceMsgRateLimit: 0, transportTenantMsgRateLimit: 0 };
    const limiter = createDeviceRateLimiter({ limits: limitsOf({ A: a }) });
    const http = limiter.forTransport('http', { maxWaitMs: 0 });
    for (let i = 0; i < 1000; i++) expect(http.reserve(A1, 0).ok).toBe(true);
    expect(limiter.stats()).toMatchObject({ devicesTracked: 0, tenantsTracked: 0 });
    a.transportDeviceMsgRateLimit = 1;
    expect(http.reserve(A1, 0).ok).toBe(true);
    expect(http.reserve(A1, 0).ok).toBe(false);
  });

  it('logs a device or tenant over its limit once per period with the count since, not per message', () => {
    const { logger, lines } = recordingLogger();
    const limiter = createDeviceRateLimiter({ limits: limitsOf({ A: { transportDeviceMsgRateLimit: 1, transportTenantMsgRateLimit: 0 } }), logger, logIntervalMs: 60_000 });
    const http = limiter.forTransport('http', { maxWaitMs: 0 });
    for (let i = 0; i < 50; i++) http.reserve(A1, 0);
    http.reserve(A2, 0);
    http.reserve(A2, 0);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ msg: 'device message rate limit exceeded', fields: { tenantId: 'A', deviceId: 'a1', transport: 'http', reason: 'device', outcome: 'refused' } });
    expect(lines[1]?.fields.deviceId).toBe('a2');
    http.reserve(A1, 60_000);
    http.reserve(A1, 60_000);
    expect(lines).toHaveLength(3);
    expect(lines[2]?.fields).toMatchObject({ deviceId: 'a1', eventsSinceLastLog: 48 });
  });

  it('forgets keys whose budget is full again; remembers at most maxKeys', () => {
    const limiter = createDeviceRateLimiter({ limits: limitsOf({ A: { transportDeviceMsgRateLimit: 1, transportTenantMsgRateLimit: 0 } }), maxKeys: 10 });
    const mqtt = limiter.forTransport('mqtt', { maxWaitMs: 0 });
    for (let i = 0; i < 100; i++) mqtt.reserve({ tenantId: 'A', deviceId: `d${i}` }, 0);
    expect(limiter.stats().devicesTracked).toBe(10);
    // pruning runs with a later reservation, at most every 10 s
    mqtt.reserve({ tenantId: 'A', deviceId: 'late' }, 20_000);
    expect(limiter.stats().devicesTracked).toBe(1);
  });
});
