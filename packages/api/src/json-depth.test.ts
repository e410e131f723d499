import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { MAX_JSON_DEPTH } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createTenantUser, createTestStorage, startTestApi, type TestApi } from './test-storage';

/** `{"a":{"a":...1...}}` nested `levels` objects deep. */
function nestedObject(levels: number): string {
  return '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
}

/** The REST API shares the device API's depth limit (MAX_JSON_DEPTH): 400, never a stack overflow's 500. */
describe('deeply nested JSON on the REST and WebSocket APIs', () => {
  let storage: Storage;
  let t: TestApi;
  let token: string;
  let deviceId: string;

  beforeAll(async () => {
    storage = await createTestStorage();
    const admin = await createTenantUser(storage, 'admin@depth.test', 'pw-a');
    t = await startTestApi(storage);
    token = await t.login(admin);
    deviceId = (await t.request('POST', '/api/device', { token, body: { name: 'depth-device' } })).body.id.id as string;
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  it.each([
    ['telemetry', () => `/api/plugins/telemetry/DEVICE/${deviceId}/timeseries/ANY`],
    ['attributes', () => `/api/plugins/telemetry/DEVICE/${deviceId}/attributes/SERVER_SCOPE`],
    ['a device save', () => '/api/device'],
  ])('%s: 30,000 levels answer 400 naming the limit', async (_what, path) => {
    const r = await t.request('POST', path(), { token, rawBody: nestedObject(30_000), headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe(`Invalid JSON: Nesting deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('the limit itself is accepted (telemetry 100 levels deep is stored)', async () => {
    // 99 objects inside the body object: 100 levels
    const body = `{"deep":${nestedObject(MAX_JSON_DEPTH - 1)}}`;
    const r = await t.request('POST', `/api/plugins/telemetry/DEVICE/${deviceId}/timeseries/ANY`, { token, rawBody: body, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    const over = `{"deep":${nestedObject(MAX_JSON_DEPTH)}}`;
    expect((await t.request('POST', `/api/plugins/telemetry/DEVICE/${deviceId}/timeseries/ANY`, { token, rawBody: over, headers: { 'content-type': 'application/json' } })).status).toBe(400);
  });

  it('a WebSocket frame 30,000 levels deep is answered with an error and the session stays usable', async () => {
    const ws = new WebSocket(`${t.wsUrl}/api/ws`);
    const got: string[] = [];
    ws.on('message', (d) => got.push(String(d)));
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.send(JSON.stringify({ authCmd: { cmdId: 0, token } }));
    // arrays (2 bytes a level) keep 30,000 levels inside the 64 KiB frame limit
    ws.send(`{"cmds":[${'['.repeat(30_000)}${']'.repeat(30_000)}]}`);
    await expect.poll(() => got.length, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
    expect(got[0]).toContain(`Nesting deeper than ${MAX_JSON_DEPTH} levels`);
    expect(got[0]).not.toContain('Internal server error');
    // still subscribed-capable: a valid command gets its snapshot
    ws.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId: 5, entityType: 'DEVICE', entityId: deviceId, scope: 'LATEST_TELEMETRY', keys: 'x' }] }));
    await expect.poll(() => got.some((m) => m.includes('"subscriptionId":5')), { timeout: 5000 }).toBe(true);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });
});
