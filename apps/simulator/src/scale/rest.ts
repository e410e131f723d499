import WebSocket from 'ws';

/** The few REST and WebSocket calls the scale run makes against the API process. */
export async function restCall<T = unknown>(base: string, jwt: string | undefined, path: string, init: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<{ status: number; body: T }> {
  const r = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(jwt ? { 'x-authorization': `Bearer ${jwt}` } : {}) },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
  });
  const text = await r.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text for the error message
  }
  return { status: r.status, body: body as T };
}

export async function login(base: string, username: string, password: string): Promise<string> {
  const r = await restCall<{ token: string }>(base, undefined, '/api/auth/login', { method: 'POST', body: { username, password } });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

export async function createDevice(base: string, jwt: string, name: string): Promise<{ id: string; token: string }> {
  const d = await restCall<{ id: { id: string } }>(base, jwt, '/api/device', { method: 'POST', body: { name, type: 'scale' } });
  if (d.status !== 200) throw new Error(`create device: ${d.status} ${JSON.stringify(d.body)}`);
  const c = await restCall<{ credentialsId: string }>(base, jwt, `/api/device/${d.body.id.id}/credentials`);
  if (c.status !== 200) throw new Error(`device credentials: ${c.status} ${JSON.stringify(c.body)}`);
  return { id: d.body.id.id, token: c.body.credentialsId };
}

/** A dashboard-like WebSocket subscriber of one device's latest `key`: counts the updates it sees. */
export async function watchLatest(base: string, jwt: string, deviceId: string, key: string): Promise<{ updates(): number; values(): number[]; close(): void }> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/ws`);
  const values: number[] = [];
  let subscribed = false;
  ws.on('message', (m) => {
    const f = JSON.parse(String(m)) as { subscriptionId?: number; data?: Record<string, Array<[number, string]>> };
    if (f.subscriptionId !== 1) return;
    subscribed = true;
    for (const [, v] of f.data?.[key] ?? []) values.push(Number(v));
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: jwt } }));
  ws.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId: 1, entityType: 'DEVICE', entityId: deviceId, scope: 'LATEST_TELEMETRY', keys: key }] }));
  const end = Date.now() + 10_000;
  while (!subscribed && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  if (!subscribed) throw new Error('WebSocket subscription was not answered within 10 s');
  values.length = 0; // the first frame is the current value, not a live update
  return { updates: () => values.length, values: () => [...values], close: () => ws.close() };
}
