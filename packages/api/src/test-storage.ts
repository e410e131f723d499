import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Broadcast, createMemoryBroadcast } from '@rivulet/broadcast';
import type { Authority, Storage } from '@rivulet/storage';
import { createApi, type Api, type ApiOptions } from './api';
import { hashPassword } from './password';

/**
 * Test helpers only (not exported from index.ts). The storage implementation is imported dynamically:
 * @rivulet/api must not depend on @rivulet/storage-postgres (only apps/server picks implementations),
 * but the API's tests run against the real thing, an in-memory PGlite database.
 */
export async function createTestStorage(): Promise<Storage> {
  const mod = await import('@rivulet/storage-postgres');
  return mod.createEmbeddedStorage({});
}

export const TEST_JWT_SECRET = 'test-secret-of-the-api-tests-0123456789';

export interface TestUser {
  tenantId: string;
  userId: string;
  email: string;
  password: string;
}

/** A tenant and one user in it, created directly through storage. */
export async function createTenantUser(storage: Storage, email: string, password: string, authority: Authority = 'TENANT_ADMIN'): Promise<TestUser> {
  const tenant = await storage.tenants.create({ title: `Tenant of ${email}` });
  // A customer user belongs to a customer of its tenant.
  const customerId = authority === 'CUSTOMER_USER' ? (await storage.customers.create(tenant.id, { title: `Customer of ${email}` })).id : null;
  const user = await storage.users.create({ tenantId: tenant.id, customerId, email, authority, passwordHash: await hashPassword(password) });
  return { tenantId: tenant.id, userId: user.id, email, password };
}

export interface TestApi {
  readonly url: string;
  readonly wsUrl: string;
  readonly api: Api;
  readonly storage: Storage;
  readonly broadcast: Broadcast;
  /** Answers `{status, body}` (body parsed as JSON when there is one). */
  request(method: string, path: string, init?: { token?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  /** An access token for the user. */
  login(user: { email: string; password: string }): Promise<string>;
  close(): Promise<void>;
}

/** The API on a node:http server on a free loopback port, in front of the given storage. */
export async function startTestApi(storage: Storage, options: Partial<ApiOptions> = {}): Promise<TestApi> {
  const broadcast = options.broadcast ?? createMemoryBroadcast();
  const api = createApi({ storage, broadcast, jwtSecret: TEST_JWT_SECRET, ...options });
  const server: Server = createServer((req, res) => {
    if (api.handle(req, res)) return;
    res.writeHead(404);
    res.end('not the api');
  });
  server.on('upgrade', (req, socket, head) => {
    if (!api.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  const request: TestApi['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (init.token) headers['x-authorization'] = `Bearer ${init.token}`;
    let body: string | Buffer | undefined;
    if (init.rawBody !== undefined) body = init.rawBody;
    else if (init.body !== undefined) body = JSON.stringify(init.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, body: text.length > 0 ? JSON.parse(text) : undefined, headers: res.headers };
  };

  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    api,
    storage,
    broadcast,
    request,
    async login(user) {
      const r = await request('POST', '/api/auth/login', { body: { username: user.email, password: user.password } });
      if (r.status !== 200) throw new Error(`login failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    async close() {
      await api.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The usual fixture of the REST tests: a fresh storage, two tenants with an administrator each, the API, both logged in. */
export interface TwoTenants {
  storage: Storage;
  t: TestApi;
  admin: TestUser;
  other: TestUser;
  token: string;
  otherToken: string;
}

/** `name` tells the users apart (admin@<name>.test, admin@<name>-other.test); `options` may be built from the storage. */
export async function startTwoTenants(name: string, options: Partial<ApiOptions> | ((storage: Storage) => Promise<Partial<ApiOptions>>) = {}): Promise<TwoTenants> {
  const storage = await createTestStorage();
  const admin = await createTenantUser(storage, `admin@${name}.test`, 'pw-a');
  const other = await createTenantUser(storage, `admin@${name}-other.test`, 'pw-b');
  const t = await startTestApi(storage, typeof options === 'function' ? await options(storage) : options);
  return { storage, t, admin, other, token: await t.login(admin), otherToken: await t.login(other) };
}

/** Closes what startTwoTenants opened. */
export async function closeTwoTenants(f: { t?: TestApi; storage?: Storage }): Promise<void> {
  await f.t?.close();
  await f.storage?.close();
}

/**
 * A JSON POST over a socket bound to `localAddress` (any 127.0.0.0/8 address works on loopback), so
 * a test can play several clients the server tells apart by address. A fresh connection each time.
 */
export function postFrom(baseUrl: string, localAddress: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${baseUrl}${path}`,
      { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const s = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: s.length > 0 ? JSON.parse(s) : undefined });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}
