import { chmodSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@rivulet/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN, api, createDevice, eventually, login, tempDir, startServerProcess, waitFor } from './test-helpers';

/**
 * Issue #12: the data directory holds PGlite's files (its WAL carries device tokens) and the JWT
 * secret. Started as `npm start` starts it (its own process, main.ts, under the usual umask 022), then
 * every entry under the data directory is stat'ed: directories 0700, files 0600, nothing for group or others.
 */

/** Every directory and file under `root` (root included) with its permission bits. */
function walk(root: string): Array<{ path: string; dir: boolean; mode: number }> {
  const out: Array<{ path: string; dir: boolean; mode: number }> = [];
  const visit = (p: string) => {
    const st = lstatSync(p);
    out.push({ path: p, dir: st.isDirectory(), mode: st.mode & 0o777 });
    if (st.isDirectory()) for (const name of readdirSync(p)) visit(join(p, name));
  };
  visit(root);
  return out;
}

/** Runs the server in its own process on `dataDir`, stores a point through it, stops it with SIGTERM. */
async function runOnce(dataDir: string): Promise<string> {
  const port = await freePort();
  const p = startServerProcess({
    RIVULET_HTTP_PORT: String(port),
    RIVULET_HTTP_HOST: '127.0.0.1',
    RIVULET_MQTT_PORT: '0',
    RIVULET_MQTT_HOST: '127.0.0.1',
    RIVULET_COAP_PORT: '0',
    RIVULET_COAP_HOST: '127.0.0.1',
    RIVULET_DATA_DIR: dataDir,
    RIVULET_ADMIN_PASSWORD: ADMIN.password,
    RIVULET_LOG_LEVEL: 'warn',
  });
  try {
    await waitFor(() => p.output().includes('listening on'), 60_000, p.output);
    const base = `http://127.0.0.1:${port}`;
    const jwt = await login(base);
    const dev = await createDevice(base, jwt, `perm-device-${globalThis.crypto.randomUUID()}`);
    const r = await fetch(`${base}/api/v1/${dev.token}/telemetry`, { method: 'POST', body: JSON.stringify({ temperature: 21.5 }) });
    expect(r.status).toBe(200);
    await eventually(async () => {
      const t = await api<Record<string, unknown[]>>(base, jwt, `/api/plugins/telemetry/DEVICE/${dev.id}/values/timeseries?keys=temperature`);
      return (t.body.temperature?.length ?? 0) > 0;
    });
  } finally {
    p.child.kill('SIGTERM');
  }
  expect(await p.exited).toBe(0);
  return p.output();
}

function expectPrivate(dataDir: string): void {
  const entries = walk(dataDir);
  // PGlite's cluster is about a thousand files; the WAL is among them
  expect(entries.length).toBeGreaterThan(500);
  expect(entries.some((e) => e.path.includes(`${join('pglite', 'pg_wal')}`) && !e.dir)).toBe(true);
  expect(entries.some((e) => e.path.endsWith('jwt-secret'))).toBe(true);
  const open = entries.filter((e) => (e.dir ? e.mode !== 0o700 : e.mode !== 0o600)).map((e) => `${e.mode.toString(8)} ${e.path}`);
  expect(open).toEqual([]);
}

describe('data directory permissions', () => {
  const tmp = tempDir('rivulet-perm-');
  afterAll(() => tmp.remove());

  it('first start: the data directory is 0700 and every file in it 0600, including the files PGlite writes while running', async () => {
    const dataDir = join(tmp.dir, 'fresh', 'data');
    const out = await runOnce(dataDir);
    expectPrivate(dataDir);
    expect(out).not.toMatch(/readable by other users/);
  }, 120_000);

  it('a data directory left open by an earlier version is tightened at start, with a warning naming it', async () => {
    const dataDir = join(tmp.dir, 'upgraded');
    await runOnce(dataDir);
    // what earlier versions left: PGlite's files 0666, directories 0755, the data directory 0777
    const before = walk(dataDir);
    for (const e of before) chmodSync(e.path, e.dir ? 0o755 : 0o666);
    chmodSync(dataDir, 0o777);
    const out = await runOnce(dataDir);
    expectPrivate(dataDir);
    const warning = out.split('\n').find((l) => l.includes('readable by other users'));
    expect(warning).toBeDefined();
    const fields = JSON.parse(warning!) as { level: number; dataDir: string; mode: string; tightened: number };
    expect(fields.level).toBe(40);
    expect(fields.dataDir).toBe(dataDir);
    expect(fields.mode).toBe('777');
    expect(fields.tightened).toBe(before.length);
  }, 240_000);
});
