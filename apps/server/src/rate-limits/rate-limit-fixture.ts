import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Rivulet } from '../app';
import { api, createTenantWithAdmin, login, SYSADMIN } from '../test-helpers';

const execFileP = promisify(execFile);

export interface TestTenant {
  tenantId: string;
  /** Devices of the tenant: id and access token. */
  devices: Array<{ id: string; token: string }>;
}

/**
 * A tenant made as an operator makes one (the system administrator's REST API: it gets the default
 * root chain, so its telemetry is stored), with `deviceCount` devices whose tokens are `${name}-d${i}`.
 */
export async function createTenant(app: Rivulet, name: string, deviceCount: number): Promise<TestTenant> {
  const sys = await login(app.url, SYSADMIN);
  const { tenantId, jwt } = await createTenantWithAdmin(app.url, sys, { title: name, email: `admin@${name}.test`, password: `${name}-admin-pw` });
  const devices: TestTenant['devices'] = [];
  for (let i = 0; i < deviceCount; i++) {
    const token = `${name}-d${i}`;
    const d = await api<{ id: { id: string } }>(app.url, jwt, `/api/device?accessToken=${token}`, { method: 'POST', body: { name: `${name} device ${i}` } });
    if (d.status !== 200) throw new Error(`create device: ${d.status} ${JSON.stringify(d.body)}`);
    devices.push({ id: d.body.id.id, token });
  }
  return { tenantId, devices };
}

/** One POST of telemetry with node's fetch: status, Retry-After and the body. */
export async function postTelemetry(app: Rivulet, token: string, body: unknown): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const r = await fetch(`${app.url}/api/v1/${token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() };
}

/** libcoap's coap-client-notls posting telemetry, verbose enough to print the response code. */
export async function coapPost(app: Rivulet, token: string, body: unknown): Promise<string> {
  const { stdout, stderr } = await execFileP(
    'coap-client-notls',
    ['-m', 'post', '-B', '8', '-v', '6', '-e', JSON.stringify(body), `coap://127.0.0.1:${app.coapPort}/api/v1/${token}/telemetry`],
    { timeout: 15_000 },
  );
  return stdout + stderr;
}
