import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort } from '@rivulet/testing';
// @ts-expect-error: a plain .mjs build script (no types); the test uses what npm run build runs
import { buildServer } from '../scripts/build.mjs';
import { ADMIN, login, waitFor } from './test-helpers';

const TB = 'org.thingsboard.rule.engine';

describe('npm run build', () => {
  // inside the checkout (dist/ is ignored by git): the bundle resolves its npm dependencies from node_modules
  mkdirSync(join(import.meta.dirname, '../../../dist'), { recursive: true });
  const out = mkdtempSync(join(import.meta.dirname, '../../../dist/test-build-'));
  const cleanups: Array<() => Promise<unknown> | void> = [() => rmSync(out, { recursive: true, force: true })];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('builds a server that starts with plain node: health, the web app and the script sandbox answer', async () => {
    const dir: string = await buildServer({ outdir: join(out, 'server'), quiet: true });
    for (const f of ['main.js', 'sandbox-worker.mjs', 'web/index.html']) expect(existsSync(join(dir, f)), f).toBe(true);

    const db = await createTestDatabase('build');
    cleanups.push(() => db.drop());
    const port = await freePort();
    // plain node: no tsx, no source condition, started from another directory
    const child = spawn(process.execPath, [join(dir, 'main.js')], {
      cwd: out,
      env: {
        PATH: process.env.PATH,
        DATABASE_URL: db.url,
        RIVULET_HTTP_PORT: String(port),
        RIVULET_HTTP_HOST: '127.0.0.1',
        RIVULET_MQTT_PORT: '0',
        RIVULET_COAP_PORT: '0',
        RIVULET_DATA_DIR: join(out, 'data'),
        RIVULET_ADMIN_PASSWORD: ADMIN.password,
        RIVULET_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    });
    await waitFor(() => output.includes('listening on') || child.exitCode !== null, 60_000, () => output);
    expect(child.exitCode, output).toBeNull();
    const base = `http://127.0.0.1:${port}`;

    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<div id="root">/);

    // a script node runs in the sandbox's worker, which the build carries beside main.js
    const jwt = await login(base);
    const chain = {
      ruleChain: { name: 'build check', type: 'CORE', root: false, debugMode: false, configuration: null },
      metadata: {
        firstNodeIndex: 0,
        nodes: [{ type: `${TB}.transform.TbTransformMsgNode`, name: 'Double', debugMode: false, configuration: { jsScript: 'return {msg: {n: msg.n * 2}, metadata: metadata, msgType: msgType};' } }],
        connections: [],
        ruleChainConnections: null,
      },
    };
    const r = await fetch(`${base}/api/ruleChain/testRun`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${jwt}` },
      body: JSON.stringify({ chain, nodeIndex: 0, msg: { type: 'CUSTOM', data: { n: 21 } } }),
    });
    const body = (await r.json()) as { ok: boolean; error: string | null; steps: Array<{ outputs: Array<{ msg: { data: unknown } }> }> };
    expect(r.status, JSON.stringify(body)).toBe(200);
    expect(body.ok, JSON.stringify(body)).toBe(true);
    expect(body.steps[0]?.outputs[0]?.msg.data).toEqual({ n: 42 });

    // SIGTERM reaches node and the server drains and exits 0 (what the container's exec-form CMD relies on)
    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  }, 180_000);
});
