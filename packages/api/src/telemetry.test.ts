import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttributeValuesSchema, TimeseriesValuesSchema } from '@rivulet/api-types';
import type { Storage } from '@rivulet/storage';
import { createTenantUser, createTestStorage, startTestApi, type TestApi, type TestUser } from './test-storage';

describe('telemetry and attributes REST API', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let token: string;
  let otherToken: string;

  beforeAll(async () => {
    storage = await createTestStorage();
    admin = await createTenantUser(storage, 'admin@tel.test', 'pw-a');
    const other = await createTenantUser(storage, 'admin@tel-other.test', 'pw-b');
    t = await startTestApi(storage);
    token = await t.login(admin);
    otherToken = await t.login(other);
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  async function newDevice(name: string): Promise<string> {
    const r = await t.request('POST', '/api/device', { token, body: { name } });
    expect(r.status).toBe(200);
    return r.body.id.id as string;
  }
  const base = (id: string, type = 'DEVICE'): string => `/api/plugins/telemetry/${type}/${id}`;

  it('stores telemetry posted in ThingsBoard shapes and reads latest values as strings (or typed when strict)', async () => {
    const id = await newDevice('tel-1');
    expect((await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: { temperature: 21.5, status: 'ok' } })).status).toBe(200);
    const r2 = await t.request('POST', `${base(id)}/timeseries/ANY`, {
      token,
      body: [
        { ts: 1000, values: { temperature: 10 } },
        { ts: 2000, values: { temperature: 20, on: true } },
      ],
    });
    expect(r2.status).toBe(200);

    const keys = await t.request('GET', `${base(id)}/keys/timeseries`, { token });
    expect([...keys.body].sort()).toEqual(['on', 'status', 'temperature']);

    const latest = await t.request('GET', `${base(id)}/values/timeseries?keys=temperature,on`, { token });
    expect(latest.status).toBe(200);
    const values = TimeseriesValuesSchema.parse(latest.body);
    expect(values.temperature?.[0]?.value).toBe('21.5');
    expect(values.on).toEqual([{ ts: 2000, value: 'true' }]);
    expect(values.status).toBeUndefined();

    const strict = await t.request('GET', `${base(id)}/values/timeseries?keys=temperature,on&useStrictDataTypes=true`, { token });
    expect(strict.body.temperature[0].value).toBe(21.5);
    expect(strict.body.on[0].value).toBe(true);

    const all = await t.request('GET', `${base(id)}/values/timeseries`, { token });
    expect(Object.keys(all.body).sort()).toEqual(['on', 'status', 'temperature']);
  });

  it('reads history with limit and order, and aggregates by interval', async () => {
    const id = await newDevice('tel-hist');
    const points = Array.from({ length: 10 }, (_, i) => ({ ts: 1000 + i * 1000, values: { v: i } }));
    expect((await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: points })).status).toBe(200);

    const desc = await t.request('GET', `${base(id)}/values/timeseries?keys=v&startTs=0&endTs=20000&limit=3`, { token });
    expect(desc.body.v).toEqual([
      { ts: 10000, value: '9' },
      { ts: 9000, value: '8' },
      { ts: 8000, value: '7' },
    ]);
    const asc = await t.request('GET', `${base(id)}/values/timeseries?keys=v&startTs=0&endTs=20000&limit=2&orderBy=ASC&useStrictDataTypes=true`, { token });
    expect(asc.body.v).toEqual([
      { ts: 1000, value: 0 },
      { ts: 2000, value: 1 },
    ]);

    // Two 5 s buckets: [1000, 6000) holds 0..4, [6000, 11000) holds 5..9.
    const avg = await t.request('GET', `${base(id)}/values/timeseries?keys=v&startTs=1000&endTs=11000&interval=5000&agg=AVG&orderBy=ASC&useStrictDataTypes=true`, { token });
    expect(avg.status).toBe(200);
    expect(avg.body.v.map((p: { value: number }) => p.value)).toEqual([2, 7]);
    const count = await t.request('GET', `${base(id)}/values/timeseries?keys=v&startTs=0&endTs=20000&agg=COUNT`, { token });
    expect(count.body.v).toHaveLength(1);
    expect(count.body.v[0].value).toBe('10');

    for (const q of ['startTs=5', 'startTs=10&endTs=5', 'startTs=a&endTs=5', 'startTs=0&endTs=5&agg=MEDIAN', 'startTs=0&endTs=5&limit=0']) {
      expect((await t.request('GET', `${base(id)}/values/timeseries?keys=v&${q}`, { token })).status, q).toBe(400);
    }
  });

  it('deletes time series in a range or entirely', async () => {
    const id = await newDevice('tel-del');
    await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: [1, 2, 3].map((i) => ({ ts: i * 1000, values: { a: i, b: i } })) });
    const r = await t.request('DELETE', `${base(id)}/timeseries/delete?keys=a&startTs=2000&endTs=10000`, { token });
    expect(r.status).toBe(200);
    const hist = await t.request('GET', `${base(id)}/values/timeseries?keys=a&startTs=0&endTs=10000`, { token });
    expect(hist.body.a).toEqual([{ ts: 1000, value: '1' }]);
    // ThingsBoard's defaults (deleteLatest=true, rewriteLatestIfDeleted=false): the latest value goes, nothing replaces it.
    expect((await t.request('GET', `${base(id)}/values/timeseries?keys=a`, { token })).body).toEqual({});
    // rewriteLatestIfDeleted=true: the newest point left becomes the latest value
    await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: { ts: 5000, values: { a: 5 } } });
    expect((await t.request('DELETE', `${base(id)}/timeseries/delete?keys=a&startTs=4000&endTs=6000&rewriteLatestIfDeleted=true`, { token })).status).toBe(200);
    expect((await t.request('GET', `${base(id)}/values/timeseries?keys=a`, { token })).body.a).toEqual([{ ts: 1000, value: '1' }]);
    // deleteLatest=false: the points go, the latest value stays
    await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: { ts: 7000, values: { a: 7 } } });
    expect((await t.request('DELETE', `${base(id)}/timeseries/delete?keys=a&startTs=6000&endTs=8000&deleteLatest=false`, { token })).status).toBe(200);
    expect((await t.request('GET', `${base(id)}/values/timeseries?keys=a`, { token })).body.a).toEqual([{ ts: 7000, value: '7' }]);
    expect((await t.request('GET', `${base(id)}/values/timeseries?keys=a&startTs=0&endTs=10000`, { token })).body.a).toEqual([{ ts: 1000, value: '1' }]);

    expect((await t.request('DELETE', `${base(id)}/timeseries/delete?keys=b&deleteAllDataForKeys=true`, { token })).status).toBe(200);
    expect((await t.request('GET', `${base(id)}/values/timeseries?keys=b`, { token })).body).toEqual({});
    expect((await t.request('DELETE', `${base(id)}/timeseries/delete?keys=a`, { token })).status).toBe(400);
    expect((await t.request('DELETE', `${base(id)}/timeseries/delete?startTs=0&endTs=1`, { token })).status).toBe(400);
  });

  it('refuses telemetry that is not one of ThingsBoard\'s shapes, or empty', async () => {
    const id = await newDevice('tel-bad');
    const r = await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: [1, 2] });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('element 0');
    expect((await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: {} })).body.message).toBe('No timeseries data found in request body!');
  });

  it('writes, reads and deletes attributes per scope; CLIENT_SCOPE writes are refused', async () => {
    const id = await newDevice('attr-1');
    expect((await t.request('POST', `${base(id)}/attributes/SERVER_SCOPE`, { token, body: { model: 'X1', limits: { max: 5 } } })).status).toBe(200);
    // ThingsBoard's older path without "attributes/".
    expect((await t.request('POST', `${base(id)}/SHARED_SCOPE`, { token, body: { target: 22, mode: 'eco' } })).status).toBe(200);

    const client = await t.request('POST', `${base(id)}/attributes/CLIENT_SCOPE`, { token, body: { fw: '1.0' } });
    expect(client.status).toBe(400);
    expect(client.body.message).toContain('CLIENT_SCOPE');
    expect((await t.request('POST', `${base(id)}/attributes/NO_SCOPE`, { token, body: { a: 1 } })).status).toBe(400);
    expect((await t.request('POST', `${base(id)}/attributes/SERVER_SCOPE`, { token, body: [1] })).status).toBe(400);
    expect((await t.request('POST', `${base(id)}/attributes/SERVER_SCOPE`, { token, body: {} })).body.message).toBe('No attributes data found in request body!');
    // A device's own attributes arrive through the device API (here: storage directly).
    await storage.attributes.save([{ entityId: id, scope: 'CLIENT_SCOPE', key: 'fw', value: '1.0', lastUpdateTs: 5 }]);

    const keys = await t.request('GET', `${base(id)}/keys/attributes`, { token });
    expect([...keys.body].sort()).toEqual(['fw', 'limits', 'mode', 'model', 'target']);
    expect([...(await t.request('GET', `${base(id)}/keys/attributes/SHARED_SCOPE`, { token })).body].sort()).toEqual(['mode', 'target']);

    const all = AttributeValuesSchema.parse((await t.request('GET', `${base(id)}/values/attributes`, { token })).body);
    expect(all.map((a) => a.key).sort()).toEqual(['fw', 'limits', 'mode', 'model', 'target']);
    // Typed JSON values here, as in ThingsBoard.
    expect(all.find((a) => a.key === 'limits')?.value).toEqual({ max: 5 });
    expect(all.find((a) => a.key === 'target')?.value).toBe(22);

    const some = (await t.request('GET', `${base(id)}/values/attributes?keys=model,fw`, { token })).body;
    expect(some.map((a: { key: string }) => a.key).sort()).toEqual(['fw', 'model']);
    const shared = (await t.request('GET', `${base(id)}/values/attributes/SHARED_SCOPE?keys=target`, { token })).body;
    expect(shared).toEqual([{ key: 'target', value: 22, lastUpdateTs: expect.any(Number) }]);

    expect((await t.request('DELETE', `${base(id)}/SHARED_SCOPE?keys=target,mode`, { token })).status).toBe(200);
    expect((await t.request('GET', `${base(id)}/values/attributes/SHARED_SCOPE`, { token })).body).toEqual([]);
    expect((await t.request('DELETE', `${base(id)}/SHARED_SCOPE`, { token })).status).toBe(400);
  });

  it('accepts the entity type in any case and refuses other entity types', async () => {
    const id = await newDevice('tel-case');
    expect((await t.request('GET', `${base(id, 'device')}/keys/timeseries`, { token })).status).toBe(200);
    const asset = await t.request('GET', `${base(id, 'ASSET')}/keys/timeseries`, { token });
    expect(asset.status).toBe(400);
    expect(asset.body.message).toContain('ASSET');
    expect((await t.request('GET', `${base('nope')}/keys/timeseries`, { token })).status).toBe(400);
    expect((await t.request('GET', `${base('00000000-0000-4000-8000-000000000001')}/keys/timeseries`, { token })).status).toBe(404);
  });

  it("ThingsBoard's device-only attribute paths: POST and DELETE /api/plugins/telemetry/{deviceId}/{scope}", async () => {
    const id = await newDevice('tel-device-path');
    const r = await t.request('POST', `/api/plugins/telemetry/${id}/SHARED_SCOPE`, { token, body: { interval: 30, mode: 'eco' } });
    expect(r.status).toBe(200);
    const got = await t.request('GET', `${base(id)}/values/attributes/SHARED_SCOPE`, { token });
    expect(got.body.map((a: { key: string; value: unknown }) => [a.key, a.value]).sort()).toEqual([['interval', 30], ['mode', 'eco']]);
    expect((await t.request('POST', `/api/plugins/telemetry/${id}/CLIENT_SCOPE`, { token, body: { x: 1 } })).status).toBe(400);
    expect((await t.request('POST', `/api/plugins/telemetry/${id}/NO_SCOPE`, { token, body: { x: 1 } })).status).toBe(400);
    expect((await t.request('DELETE', `/api/plugins/telemetry/${id}/SHARED_SCOPE?keys=mode`, { token })).status).toBe(200);
    expect((await t.request('GET', `${base(id)}/values/attributes/SHARED_SCOPE`, { token })).body.map((a: { key: string }) => a.key)).toEqual(['interval']);
    expect((await t.request('DELETE', `/api/plugins/telemetry/${id}/SHARED_SCOPE`, { token })).status).toBe(400);
    // another tenant: 404, nothing changed
    expect((await t.request('POST', `/api/plugins/telemetry/${id}/SHARED_SCOPE`, { token: otherToken, body: { interval: 1 } })).status).toBe(404);
    expect((await t.request('DELETE', `/api/plugins/telemetry/${id}/SHARED_SCOPE?keys=interval`, { token: otherToken })).status).toBe(404);
    expect((await t.request('GET', `${base(id)}/values/attributes/SHARED_SCOPE`, { token })).body.map((a: { key: string; value: unknown }) => [a.key, a.value])).toEqual([['interval', 30]]);
  });

  it('keeps another tenant out of a device\'s data', async () => {
    const id = await newDevice('tel-private');
    await t.request('POST', `${base(id)}/timeseries/ANY`, { token, body: { secret: 1 } });
    await t.request('POST', `${base(id)}/attributes/SERVER_SCOPE`, { token, body: { secret: 1 } });
    for (const [method, path, body] of [
      ['GET', '/values/timeseries?keys=secret', undefined],
      ['GET', '/keys/timeseries', undefined],
      ['GET', '/values/attributes', undefined],
      ['POST', '/timeseries/ANY', { injected: 1 }],
      ['POST', '/attributes/SERVER_SCOPE', { injected: 1 }],
      ['DELETE', '/SERVER_SCOPE?keys=secret', undefined],
      ['DELETE', '/timeseries/delete?keys=secret&deleteAllDataForKeys=true', undefined],
    ] as const) {
      const r = await t.request(method, `${base(id)}${path}`, { token: otherToken, ...(body ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    expect((await t.request('GET', `${base(id)}/values/timeseries?keys=secret`, { token })).body.secret).toHaveLength(1);
    expect(await storage.attributes.findKeys(id)).toEqual(['secret']);
  });
});
