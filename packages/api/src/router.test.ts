import { describe, expect, it } from 'vitest';
import { ApiError } from './api-error';
import { createRouter, ok, type Handler } from './router';

const h = (name: string): Handler => async () => ok(name);

describe('router', () => {
  const router = createRouter([
    { method: 'GET', path: '/api/device/{deviceId}', handler: h('get') },
    { method: 'DELETE', path: '/api/device/{deviceId}', handler: h('delete') },
    { method: 'POST', path: '/api/x/{id}/{scope}', handler: h('scope') },
    { method: 'POST', path: '/api/x/{id}/timeseries', handler: h('literal') },
  ]);

  async function run(method: string, path: string): Promise<unknown> {
    const m = router.match(method, path);
    if (m.kind !== 'found') return m;
    return (await m.handler({ req: undefined as never, params: m.params, query: new URLSearchParams(), body: async () => undefined })).body;
  }

  it('matches parameters and decodes them', () => {
    const m = router.match('GET', '/api/device/a%20b');
    expect(m).toMatchObject({ kind: 'found', params: { deviceId: 'a b' } });
  });

  it('ignores a trailing slash', () => {
    expect(router.match('GET', '/api/device/1/').kind).toBe('found');
  });

  it('prefers literal segments over parameters, whatever the order', async () => {
    expect(await run('POST', '/api/x/1/timeseries')).toBe('literal');
    expect(await run('POST', '/api/x/1/SHARED_SCOPE')).toBe('scope');
  });

  it('tells an unknown path from a known path with another method', () => {
    expect(router.match('GET', '/api/nothing')).toEqual({ kind: 'none' });
    const m = router.match('PUT', '/api/device/1');
    expect(m.kind).toBe('method');
    if (m.kind === 'method') expect(m.allowed.sort()).toEqual(['DELETE', 'GET']);
  });

  it('answers 400 for malformed percent-encoding', () => {
    expect(() => router.match('GET', '/api/device/%E0%A4%A')).toThrow(ApiError);
  });
});
