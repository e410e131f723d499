import { createTestDatabase, launchBrowser, openPage, signInThroughForm, type OpenedPage, type TestBrowser } from '@rivulet/testing';
import { loadConfig, startRivulet, type Rivulet } from '@rivulet/server';

/**
 * The web app's browser tests: the whole platform (real PostgreSQL, the built web app served at /)
 * in the test process, and real headless Chromium. One scheme for every e2e file.
 */

export const ADMIN = { username: 'tenant@rivulet.local', password: 'secret123' };

export interface WebServer {
  readonly rivulet: Rivulet;
  readonly url: string;
  readonly mqttPort: number;
  readonly coapPort: number;
  /** Stops the server and starts it again on the same ports and database (the data stays). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWebServer(env: Record<string, string> = {}): Promise<WebServer> {
  const db = await createTestDatabase('web');
  const base: Record<string, string> = {
    DATABASE_URL: db.url,
    RIVULET_HTTP_HOST: '127.0.0.1',
    RIVULET_MQTT_HOST: '127.0.0.1',
    RIVULET_COAP_HOST: '127.0.0.1',
    RIVULET_ADMIN_PASSWORD: ADMIN.password,
    RIVULET_LOG_LEVEL: 'silent',
    RIVULET_API_RATE_LIMIT: '0',
    ...env,
  };
  const start = (ports: { http: number; mqtt: number; coap: number }) =>
    startRivulet(loadConfig({ ...base, RIVULET_HTTP_PORT: String(ports.http), RIVULET_MQTT_PORT: String(ports.mqtt), RIVULET_COAP_PORT: String(ports.coap) }));
  let rivulet = await start({ http: 0, mqtt: 0, coap: 0 });
  const ports = { http: rivulet.port, mqtt: rivulet.mqttPort!, coap: rivulet.coapPort! };
  return {
    get rivulet() {
      return rivulet;
    },
    url: rivulet.url,
    mqttPort: ports.mqtt,
    coapPort: ports.coap,
    async restart() {
      await rivulet.stop();
      rivulet = await start(ports);
    },
    async stop() {
      await rivulet.stop();
      await db.drop();
    },
  };
}

/** A signed-in page in a fresh context. */
export async function signedInPage(browser: TestBrowser, server: WebServer, options: { colorScheme?: 'light' | 'dark'; path?: string } = {}): Promise<OpenedPage> {
  const opened = await openPage(browser, { baseURL: server.url, colorScheme: options.colorScheme ?? 'light' });
  await signInThroughForm(opened.page, ADMIN, options.path ?? '/');
  return opened;
}

/** REST as the tenant administrator, for arranging and checking what the UI shows. */
export async function adminApi(server: WebServer): Promise<<T = unknown>(path: string, init?: { method?: string; body?: unknown }) => Promise<T>> {
  const r = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
  const { token } = (await r.json()) as { token: string };
  return async <T,>(path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'x-authorization': `Bearer ${token}`, 'content-type': 'application/json' },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

export { launchBrowser, openPage, screenshot, signInThroughForm } from '@rivulet/testing';
