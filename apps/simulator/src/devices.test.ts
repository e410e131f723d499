import { describe, expect, it } from 'vitest';
import { parseTokens } from './devices';

describe('token files', () => {
  it('reads bare tokens and JSON lines, skips blanks and comments, names what is wrong', () => {
    expect(parseTokens('# devices\nabc\n\n{"name":"d2","token":"def","id":"u-2"}\r\n')).toEqual([
      { name: 'device-1', token: 'abc' },
      { name: 'd2', token: 'def', id: 'u-2' },
    ]);
    expect(() => parseTokens('{"name":"x"}')).toThrow(/tokens line 1: no "token"/);
  });
});

describe('the REST client under the API rate limit', () => {
  it('waits out 429 (Retry-After) and creates every device', async () => {
    const { createRestClient, provisionDevices } = await import('./devices');
    const { ADMIN, startTestPlatform } = await import('./test-server');
    // 8 requests per 2 s window: 6 devices are 1 login + 12 requests, so the client must wait at least once.
    const { app, stop } = await startTestPlatform({ RIVULET_API_RATE_LIMIT: '8', RIVULET_API_RATE_LIMIT_WINDOW_MS: '2000' });
    try {
      const rest = createRestClient({ baseUrl: app.url });
      await rest.login(ADMIN.username, ADMIN.password);
      const t0 = Date.now();
      const devices = await provisionDevices({ rest, count: 6, prefix: 'limited-', concurrency: 3 });
      expect(devices.map((d) => d.token.length > 0)).toEqual(Array(6).fill(true));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
      expect((await app.storage.devices.list(app.tenantId, { pageSize: 20, page: 0 })).totalElements).toBe(6);
    } finally {
      await stop();
    }
  });
});
