import { readFile, writeFile } from 'node:fs/promises';

/** A simulated device: its access token, and its name and id when known (created through REST). */
export interface SimDevice {
  name: string;
  token: string;
  id?: string;
}

export type FetchFn = typeof globalThis.fetch;

export interface RestClient {
  login(username: string, password: string): Promise<void>;
  /** Creates the device, or finds it when one of that name exists; returns it with its token. */
  ensureDevice(name: string, type: string): Promise<Required<SimDevice>>;
  /** The dashboard of exactly this title, when the tenant has one (the first found, if several). */
  findDashboard(title: string): Promise<{ id: string } | undefined>;
  /** Creates a dashboard, or with `id` replaces that one's title and configuration; returns its id. */
  saveDashboard(dashboard: { id?: string; title: string; configuration: Record<string, unknown> }): Promise<{ id: string }>;
  /** The whole dashboard (`GET /api/dashboard/{id}`), configuration included. */
  getDashboard(id: string): Promise<RestDashboard>;
  /** The JWT, for the WebSocket API. */
  readonly jwt: string | undefined;
}

/** A dashboard as the REST API serves it (ThingsBoard's Dashboard), the fields the simulator reads. */
export interface RestDashboard {
  id: { entityType: 'DASHBOARD'; id: string };
  title: string;
  configuration: Record<string, unknown>;
}

export class RestError extends Error {
  readonly code = 'REST_ERROR';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'RestError';
  }
}

/** The few REST calls the simulator needs, in ThingsBoard's shapes (so it works against ThingsBoard too). */
/** Longest one REST call waits out the API's rate limit (429 with Retry-After) before it fails. */
const MAX_RATE_LIMIT_WAIT_MS = 120_000;

export function createRestClient(opts: { baseUrl: string; fetch?: FetchFn }): RestClient {
  const doFetch = opts.fetch ?? globalThis.fetch;
  const base = opts.baseUrl.replace(/\/+$/, '');
  let jwt: string | undefined;

  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (jwt) headers['x-authorization'] = `Bearer ${jwt}`;
    let r = await doFetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    // The REST API's rate limit (RIVULET_API_RATE_LIMIT): wait as long as Retry-After says, then
    // send again, so creating thousands of devices slows down instead of failing.
    for (let waited = 0; r.status === 429 && waited < MAX_RATE_LIMIT_WAIT_MS; ) {
      await r.arrayBuffer();
      const ms = Math.min(Math.max(Number(r.headers.get('retry-after')) || 1, 1) * 1000, MAX_RATE_LIMIT_WAIT_MS - waited);
      await new Promise((resolve) => setTimeout(resolve, ms));
      waited += ms;
      r = await doFetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    }
    const text = await r.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: r.status, body: parsed as T };
  }
  const fail = (what: string, r: { status: number; body: unknown }): never => {
    throw new RestError(`${what}: HTTP ${r.status} ${typeof r.body === 'string' ? r.body : JSON.stringify(r.body)}`, r.status);
  };

  async function credentials(id: string): Promise<string> {
    const c = await call<{ credentialsId: string }>('GET', `/api/device/${id}/credentials`);
    if (c.status !== 200) fail(`credentials of ${id}`, c);
    return c.body.credentialsId;
  }

  return {
    get jwt() {
      return jwt;
    },
    async login(username, password) {
      const r = await call<{ token: string }>('POST', '/api/auth/login', { username, password });
      if (r.status !== 200 || !r.body?.token) fail('login', r);
      jwt = r.body.token;
    },
    async ensureDevice(name, type) {
      const created = await call<{ id: { id: string } }>('POST', '/api/device', { name, type });
      if (created.status === 200) return { name, id: created.body.id.id, token: await credentials(created.body.id.id) };
      // Most likely it exists already (a second run): find it by name.
      const q = new URLSearchParams({ pageSize: '10', page: '0', textSearch: name });
      const found = await call<{ data: Array<{ name: string; id: { id: string } }> }>('GET', `/api/tenant/devices?${q}`);
      const hit = found.status === 200 ? found.body.data.find((d) => d.name === name) : undefined;
      if (!hit) return fail(`create device ${name}`, created);
      return { name, id: hit.id.id, token: await credentials(hit.id.id) };
    },
    async findDashboard(title) {
      // textSearch is a substring match: page through the matches for the exact title.
      for (let page = 0; ; page++) {
        const q = new URLSearchParams({ pageSize: '100', page: String(page), textSearch: title, sortProperty: 'createdTime', sortOrder: 'ASC' });
        const r = await call<{ data: Array<{ title: string; id: { id: string } }>; hasNext: boolean }>('GET', `/api/tenant/dashboards?${q}`);
        if (r.status !== 200) return fail(`find dashboard ${title}`, r);
        const hit = r.body.data.find((d) => d.title === title);
        if (hit) return { id: hit.id.id };
        if (!r.body.hasNext) return undefined;
      }
    },
    async saveDashboard(dashboard) {
      const { id, ...rest } = dashboard;
      const r = await call<{ id: { id: string } }>('POST', '/api/dashboard', id === undefined ? rest : { ...rest, id: { entityType: 'DASHBOARD', id } });
      if (r.status !== 200) return fail(`save dashboard ${dashboard.title}`, r);
      return { id: r.body.id.id };
    },
    async getDashboard(id) {
      const r = await call<RestDashboard>('GET', `/api/dashboard/${encodeURIComponent(id)}`);
      if (r.status !== 200) return fail(`dashboard ${id}`, r);
      return r.body;
    },
  };
}

/**
 * Creates (or finds) `count` devices named `${prefix}${n}` with at most `concurrency` requests at
 * once; `onProgress` is told how many are ready.
 */
export async function provisionDevices(opts: {
  rest: RestClient;
  count: number;
  prefix: string;
  type?: string;
  concurrency?: number;
  onProgress?: (ready: number) => void;
}): Promise<Array<Required<SimDevice>>> {
  const out: Array<Required<SimDevice>> = new Array(opts.count);
  const width = String(opts.count).length;
  let next = 0;
  let ready = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.count) {
      const i = next++;
      out[i] = await opts.rest.ensureDevice(`${opts.prefix}${String(i + 1).padStart(width, '0')}`, opts.type ?? 'simulated');
      ready++;
      opts.onProgress?.(ready);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.count, Math.max(1, opts.concurrency ?? 16)) }, worker));
  return out;
}

/** Token file: one device per line, either a bare access token or JSON {"name","token","id"}. */
export function parseTokens(text: string): SimDevice[] {
  const out: SimDevice[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('{')) {
      const d = JSON.parse(line) as Partial<SimDevice>;
      if (typeof d.token !== 'string' || d.token === '') throw new Error(`tokens line ${i + 1}: no "token"`);
      out.push({ name: d.name ?? `device-${out.length + 1}`, token: d.token, ...(d.id ? { id: d.id } : {}) });
    } else {
      out.push({ name: `device-${out.length + 1}`, token: line });
    }
  }
  return out;
}

export async function readTokens(path: string): Promise<SimDevice[]> {
  return parseTokens(await readFile(path, 'utf8'));
}

export async function writeTokens(path: string, devices: readonly SimDevice[]): Promise<void> {
  await writeFile(path, devices.map((d) => JSON.stringify(d)).join('\n') + '\n');
}
