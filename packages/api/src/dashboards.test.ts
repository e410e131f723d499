import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardInfoPageSchema, DashboardInfoSchema, DashboardSchema, type DashboardDto } from '@rivulet/api-types';
import { newId } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createTenantUser, closeTwoTenants, startTwoTenants, type TestApi, type TestUser } from './test-storage';

/** A dashboard configuration in ThingsBoard's shape: one chart on one device alias. */
function tbConfiguration(deviceId = newId()) {
  return {
    description: 'Boiler room',
    widgets: {
      'a1b2c3d4-0000-4000-8000-000000000001': {
        typeFullFqn: 'system.time_series_chart',
        type: 'timeseries',
        sizeX: 12,
        sizeY: 6,
        config: {
          title: 'Temperature',
          datasources: [{ type: 'entity', entityAliasId: 'alias-1', dataKeys: [{ name: 'temperature', type: 'timeseries', label: 'Temperature' }] }],
          timewindow: { realtime: { timewindowMs: 86_400_000 } },
        },
      },
    },
    states: {
      default: { name: 'Boiler', root: true, layouts: { main: { widgets: { 'a1b2c3d4-0000-4000-8000-000000000001': { sizeX: 12, sizeY: 6, row: 0, col: 0 } } } } },
    },
    entityAliases: { 'alias-1': { id: 'alias-1', alias: 'Boiler', filter: { type: 'singleEntity', singleEntity: { entityType: 'DEVICE', id: deviceId } } } },
    timewindow: { realtime: { timewindowMs: 86_400_000 } },
    settings: { showTitle: true },
  };
}

describe('dashboard REST API', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let other: TestUser;
  let token: string;
  let otherToken: string;

  beforeAll(async () => {
    ({ storage, t, admin, other, token, otherToken } = await startTwoTenants('dash'));
  });
  afterAll(() => closeTwoTenants({ t, storage }));

  const req = (method: string, path: string, body?: unknown, as = token) => t.request(method, path, { token: as, ...(body === undefined ? {} : { body }) });

  async function create(body: Record<string, unknown>): Promise<{ id: string; body: DashboardDto }> {
    const r = await req('POST', '/api/dashboard', body);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return { id: r.body.id.id as string, body: r.body as DashboardDto };
  }

  it('creates a dashboard in ThingsBoard shape and reads it back whole and as info', async () => {
    const configuration = tbConfiguration();
    const r = await req('POST', '/api/dashboard', { title: 'Boiler room', configuration });
    expect(r.status).toBe(200);
    const d = DashboardSchema.parse(r.body);
    expect(d).toMatchObject({
      id: { entityType: 'DASHBOARD' },
      tenantId: { entityType: 'TENANT', id: admin.tenantId },
      title: 'Boiler room',
      name: 'Boiler room',
      // ThingsBoard keeps the description in the configuration: it is served at the top as well.
      description: 'Boiler room',
      configuration,
    });
    expect(await req('GET', `/api/dashboard/${d.id.id}`)).toMatchObject({ status: 200, body: r.body });
    const info = await req('GET', `/api/dashboard/info/${d.id.id}`);
    expect(info.status).toBe(200);
    expect(info.body).toEqual(DashboardInfoSchema.parse(info.body));
    expect(info.body).not.toHaveProperty('configuration');
    const { configuration: _c, ...withoutConfiguration } = r.body;
    expect(info.body).toEqual(withoutConfiguration);
  });

  it('creates with only a title (empty configuration) and takes a top-level description', async () => {
    const bare = await create({ title: '  Bare  ' });
    expect(bare.body).toMatchObject({ title: 'Bare', description: null, configuration: {} });
    const described = await create({ title: 'Described', description: 'given', configuration: { description: 'inside' } });
    expect(described.body.description).toBe('given');
  });

  it('imports a ThingsBoard export: unknown fields are ignored, the configuration kept exactly', async () => {
    const configuration = tbConfiguration();
    const exported = { title: 'From ThingsBoard', image: null, mobileHide: false, mobileOrder: null, configuration, name: 'From ThingsBoard', resources: [] };
    const { id, body } = await create(exported);
    expect(body.configuration).toEqual(configuration);
    expect(body).not.toHaveProperty('image');
    expect((await req('GET', `/api/dashboard/${id}`)).body.configuration).toEqual(configuration);
  });

  it('updates when the body has an id (ThingsBoard save), keeping createdTime and a configuration left out', async () => {
    const created = (await create({ title: 'V1', configuration: tbConfiguration() })).body;
    const renamed = await req('POST', '/api/dashboard', { id: created.id, title: 'V2' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: created.id, createdTime: created.createdTime, title: 'V2', name: 'V2', configuration: created.configuration, description: 'Boiler room' });
    // The dashboard as read, changed and sent back whole: what the editor does.
    const widgets = { ...(created.configuration.widgets as Record<string, unknown>), 'a1b2c3d4-0000-4000-8000-000000000002': { typeFullFqn: 'system.cards.entities_table', type: 'latest', sizeX: 6, sizeY: 6, config: {} } };
    const edited = await req('POST', '/api/dashboard', { ...renamed.body, configuration: { ...created.configuration, widgets } });
    expect(edited.status).toBe(200);
    expect(Object.keys(DashboardSchema.parse(edited.body).configuration.widgets as Record<string, unknown>)).toHaveLength(2);
    expect((await req('GET', `/api/dashboard/${created.id.id}`)).body).toEqual(edited.body);
    // A bare uuid as id works too (ThingsBoard clients send either).
    expect((await req('POST', '/api/dashboard', { id: created.id.id, title: 'V3' })).body).toMatchObject({ id: created.id, title: 'V3' });
    // null clears the configuration.
    expect((await req('POST', '/api/dashboard', { id: created.id, title: 'V3', configuration: null })).body.configuration).toEqual({});
  });

  it('answers 404 when updating an unknown dashboard or another tenant’s', async () => {
    const unknown = await req('POST', '/api/dashboard', { id: { entityType: 'DASHBOARD', id: newId() }, title: 'Ghost' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errorCode).toBe(32);
    const mine = await create({ title: 'Mine' });
    const stolen = await req('POST', '/api/dashboard', { id: mine.body.id, title: 'Stolen' }, otherToken);
    expect(stolen.status).toBe(404);
    expect((await req('GET', `/api/dashboard/${mine.id}`)).body.title).toBe('Mine');
  });

  it('refuses a missing or empty title, naming the field', async () => {
    for (const body of [{}, { title: '' }, { title: '   ' }, { title: null }, { configuration: {} }]) {
      const r = await req('POST', '/api/dashboard', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body, JSON.stringify(body)).toMatchObject({ errorCode: 30, message: 'title: Dashboard title should be specified' });
    }
    const typed = await req('POST', '/api/dashboard', { title: 42 });
    expect(typed.status).toBe(400);
    expect(typed.body).toMatchObject({ errorCode: 30, message: 'title: Dashboard title must be a string' });
    expect((await req('POST', '/api/dashboard', { title: 'x'.repeat(256) })).status).toBe(400);
  });

  it('refuses a configuration that is not a JSON object, naming the field', async () => {
    for (const configuration of [[], [{ widgets: {} }], 'widgets', 42, true]) {
      const r = await req('POST', '/api/dashboard', { title: 'Bad', configuration });
      expect(r.status, JSON.stringify(configuration)).toBe(400);
      expect(r.body.message, JSON.stringify(configuration)).toBe('configuration: Dashboard configuration must be a JSON object');
    }
  });

  it('refuses a body that is not an object, a bad id in the body, and malformed JSON', async () => {
    for (const body of [[], 'title', 7]) {
      const r = await req('POST', '/api/dashboard', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message).toMatch(/^body: /);
    }
    const badId = await req('POST', '/api/dashboard', { id: { entityType: 'DASHBOARD', id: 'nope' }, title: 'x' });
    expect(badId.status).toBe(400);
    expect(badId.body.message).toMatch(/^id/);
    const wrongType = await req('POST', '/api/dashboard', { id: { entityType: 'DEVICE', id: newId() }, title: 'x' });
    expect(wrongType.status).toBe(400);

    const malformed = await t.request('POST', '/api/dashboard', { token, rawBody: '{"title": "x", "configuration": {' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/^Invalid JSON: /);
    const empty = await t.request('POST', '/api/dashboard', { token, rawBody: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toBe('Request body is required');
  });

  it('refuses a body over the size cap with 413, storing nothing', async () => {
    const before = (await req('GET', '/api/tenant/dashboards?pageSize=1000')).body.totalElements;
    const big = await t.request('POST', '/api/dashboard', { token, rawBody: JSON.stringify({ title: 'Huge', configuration: { blob: 'a'.repeat(1024 * 1024 + 10) } }) });
    expect(big.status).toBe(413);
    expect(big.body.status).toBe(413);
    expect((await req('GET', '/api/tenant/dashboards?pageSize=1000')).body.totalElements).toBe(before);
  });

  it('answers 400 for a path id that is not a UUID, 404 for an unknown one', async () => {
    for (const path of ['/api/dashboard/not-a-uuid', '/api/dashboard/info/not-a-uuid']) {
      const r = await req('GET', path);
      expect(r.status, path).toBe(400);
      expect(r.body.message, path).toContain('not-a-uuid');
    }
    expect((await req('DELETE', '/api/dashboard/not-a-uuid')).status).toBe(400);
    const id = newId();
    for (const [method, path] of [['GET', `/api/dashboard/${id}`], ['GET', `/api/dashboard/info/${id}`], ['DELETE', `/api/dashboard/${id}`]] as const) {
      const r = await req(method, path);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.message, `${method} ${path}`).toBe(`Dashboard ${id} not found`);
    }
  });

  it('pages, searches and sorts the tenant’s dashboards as DashboardInfo', async () => {
    for (let i = 0; i < 12; i++) {
      await create({ title: `page-${String(i).padStart(2, '0')}`, configuration: tbConfiguration() });
      // distinct createdTime, so the default order is fully determined
      await new Promise((r) => setTimeout(r, 3));
    }
    const first = await req('GET', '/api/tenant/dashboards?pageSize=5&page=0&textSearch=page-&sortProperty=title&sortOrder=ASC');
    expect(first.status).toBe(200);
    const p1 = DashboardInfoPageSchema.parse(first.body);
    expect(p1).toMatchObject({ totalElements: 12, totalPages: 3, hasNext: true });
    expect(p1.data.map((d) => d.title)).toEqual(['page-00', 'page-01', 'page-02', 'page-03', 'page-04']);
    expect(first.body.data.every((d: Record<string, unknown>) => !('configuration' in d))).toBe(true);
    const last = (await req('GET', '/api/tenant/dashboards?pageSize=5&page=2&textSearch=PAGE-&sortProperty=title&sortOrder=desc')).body;
    expect(last.hasNext).toBe(false);
    expect(last.data.map((d: { title: string }) => d.title)).toEqual(['page-01', 'page-00']);
    // Newest first by default; a sort property without an order sorts ascending (ThingsBoard's createPageLink).
    const newest = (await req('GET', '/api/tenant/dashboards?pageSize=2&textSearch=page-')).body;
    expect(newest.data.map((d: { title: string }) => d.title)).toEqual(['page-11', 'page-10']);
    const oldest = (await req('GET', '/api/tenant/dashboards?pageSize=2&textSearch=page-&sortProperty=createdTime')).body;
    expect(oldest.data.map((d: { title: string }) => d.title)).toEqual(['page-00', 'page-01']);
    // pageSize defaults to 10 and is capped at 1000.
    expect((await req('GET', '/api/tenant/dashboards?textSearch=page-')).body.data).toHaveLength(10);
    expect((await req('GET', '/api/tenant/dashboards?pageSize=100000')).status).toBe(200);
    expect((await req('GET', '/api/tenant/dashboards?textSearch=nothing-like-it')).body).toEqual({ data: [], totalPages: 0, totalElements: 0, hasNext: false });
  });

  it('answers 400 for bad paging parameters', async () => {
    for (const q of ['pageSize=abc', 'pageSize=0', 'page=-1', 'page=1.5', 'sortOrder=UP', 'sortProperty=name', 'sortProperty=configuration']) {
      const r = await req('GET', `/api/tenant/dashboards?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.errorCode, q).toBe(31);
    }
  });

  it('deletes a dashboard', async () => {
    const { id } = await create({ title: 'Doomed', configuration: tbConfiguration() });
    expect((await req('DELETE', `/api/dashboard/${id}`, undefined, otherToken)).status).toBe(404);
    const r = await req('DELETE', `/api/dashboard/${id}`);
    expect(r.status).toBe(200);
    expect((await req('GET', `/api/dashboard/${id}`)).status).toBe(404);
    expect((await req('DELETE', `/api/dashboard/${id}`)).status).toBe(404);
  });

  it('keeps tenants apart: another tenant sees none of these dashboards', async () => {
    const { id } = await create({ title: 'Private' });
    expect((await req('GET', `/api/dashboard/${id}`, undefined, otherToken)).status).toBe(404);
    expect((await req('GET', `/api/dashboard/info/${id}`, undefined, otherToken)).status).toBe(404);
    expect((await req('GET', '/api/tenant/dashboards?pageSize=100', undefined, otherToken)).body.totalElements).toBe(0);
    expect((await req('GET', `/api/dashboard/${id}`)).status).toBe(200);
  });

  it('is for tenant administrators only: 401 without a token, 403 for other authorities', async () => {
    const { id } = await create({ title: 'Guarded' });
    expect((await t.request('GET', '/api/tenant/dashboards')).status).toBe(401);
    expect((await t.request('GET', `/api/dashboard/${id}`)).status).toBe(401);
    expect((await t.request('POST', '/api/dashboard', { body: { title: 'x' } })).status).toBe(401);
    const customer = await createTenantUser(storage, 'customer@dash.test', 'pw-c', 'CUSTOMER_USER');
    const customerToken = await t.login(customer);
    const r = await req('GET', '/api/tenant/dashboards', undefined, customerToken);
    expect(r.status).toBe(403);
    expect(r.body.errorCode).toBe(20);
    expect((await req('DELETE', `/api/dashboard/${id}`, undefined, customerToken)).status).toBe(403);
  });
});
