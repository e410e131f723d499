import { afterEach, describe, expect, it } from 'vitest';
import { sameLimitsForEveryTenant } from '@rivulet/testing';
import { rateLimitString } from '@rivulet/transport-service';
import { TOKEN, closeAll, nextMessage, startTransport } from './test-harness';

afterEach(closeAll);

const limits = sameLimitsForEveryTenant({ transportDeviceMsgRateLimit: 20, maxPayloadBytes: 1000 });

describe('getSessionLimits (client-side RPC answered by the transport, as ThingsBoard)', () => {
  it('rate limit strings: ThingsBoard\'s "count:seconds", "" for no limit', () => {
    expect(rateLimitString(20)).toBe('20:1');
    expect(rateLimitString(0.5)).toBe('1:2');
    expect(rateLimitString(0.1)).toBe('1:10');
    expect(rateLimitString(0)).toBe('');
  });

  it('MQTT 3.1.1: v1 and v2 request topics are answered from the device\'s real limits; nothing reaches the rule engine', async () => {
    const h = await startTransport({ services: { tenantLimits: limits } });
    const c = await h.connect(TOKEN);
    await c.subscribeAsync(['v1/devices/me/rpc/response/+', 'v2/r/res/+'], { qos: 1 });
    const v1 = nextMessage(c, 'v1/devices/me/rpc/response/7');
    await c.publishAsync('v1/devices/me/rpc/request/7', '{"method":"getSessionLimits","params":{}}', { qos: 1 });
    expect(JSON.parse((await v1).payload)).toEqual({
      maxPayloadSize: 1000,
      maxInflightMessages: 64,
      rateLimits: { messages: '20:1', telemetryMessages: '20:1', telemetryDataPoints: '' },
    });
    const v2 = nextMessage(c, 'v2/r/res/8');
    await c.publishAsync('v2/r/req/8', '{"method":"getSessionLimits"}', { qos: 1 });
    expect(JSON.parse((await v2).payload)).toMatchObject({ maxPayloadSize: 1000 });
    // another method still goes to the rule engine
    await c.publishAsync('v1/devices/me/rpc/request/9', '{"method":"getTime","params":{}}', { qos: 1 });
    await new Promise((r) => setTimeout(r, 50));
    expect(h.consumed.map((m) => (m.data as { method: string }).method)).toEqual(['getTime']);
  });

  it('MQTT 5: answered with the request\'s Correlation Data; without tenant limits, the transport\'s payload limit and no rate', async () => {
    const h = await startTransport({ config: { maxPayloadBytes: 4096 } });
    const c = await h.connect(TOKEN, { protocolVersion: 5 });
    await c.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
    const got = new Promise<{ payload: string; correlation: Buffer | undefined }>((resolve) =>
      c.on('message', (_t, payload, packet) => resolve({ payload: payload.toString('utf8'), correlation: packet.properties?.correlationData as Buffer | undefined })),
    );
    await c.publishAsync('v1/devices/me/rpc/request/1', '{"method":"getSessionLimits"}', { qos: 1, properties: { correlationData: Buffer.from('abc') } });
    const answer = await got;
    expect(JSON.parse(answer.payload)).toEqual({ maxPayloadSize: 4096, maxInflightMessages: 64, rateLimits: { messages: '', telemetryMessages: '', telemetryDataPoints: '' } });
    expect(answer.correlation?.toString()).toBe('abc');
    expect(h.consumed).toEqual([]);
  });
});
