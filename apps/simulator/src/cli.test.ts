import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@rivulet/testing';
import { ADMIN, startTestPlatform } from './test-server';

const CLI = join(dirname(fileURLToPath(import.meta.url)), 'cli.ts');

/** The CLI as `npm run sim --` runs it, in its own process: exit code and stderr. */
function sim(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=source', '--import', 'tsx', CLI, ...args], { timeout: 60_000 }, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stderr });
    });
  });
}

describe('simulator CLI', () => {
  let platform: Awaited<ReturnType<typeof startTestPlatform>>;
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-sim-cli-'));
  beforeAll(async () => {
    platform = await startTestPlatform();
  });
  afterAll(async () => {
    await platform?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--demo --save-tokens writes the demo devices, which a later run can drive', async () => {
    const tokens = join(dir, 'demo.jsonl');
    const demo = await sim(['--demo', '--url', platform.app.url, '--password', ADMIN.password, '--save-tokens', tokens]);
    expect(demo.code, demo.stderr).toBe(0);
    const saved = readFileSync(tokens, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { name: string; token: string });
    expect(saved.map((d) => d.name)).toContain('Demo Thermostat 1');
    expect(saved).toHaveLength(5);
    expect(demo.stderr).toContain(`written to ${tokens}`);
    // The command it prints, as printed (plus a short duration).
    const printed = /npm run sim -- (.+)\n/.exec(demo.stderr.slice(demo.stderr.indexOf(`written to ${tokens}`)))?.[1];
    expect(printed).toBe(`--protocol http --url ${platform.app.url} --tokens ${tokens} --devices 5 --rate 5`);
    const live = await sim([...printed!.split(' '), '--duration', '1']);
    expect(live.code, live.stderr).toBe(0);
  });

  it('names the cause when the server cannot be reached', async () => {
    const port = await freePort();
    const r = await sim(['--devices', '1', '--protocol', 'http', '--url', `http://127.0.0.1:${port}`, '--password', 'x', '--duration', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`simulator failed: fetch failed: ECONNREFUSED 127.0.0.1:${port} (is Rivulet running there? see --url)`);
  });
});
