import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, login, startTestServer, tempDir } from './test-helpers';

/**
 * schemathesis (PyPI) against the served OpenAPI document and a real server, with a valid JWT: no
 * 5xx, no answer that breaks its documented schema, status or content type. .ci/run installs it in
 * a venv under ~/.cache/rivulet-schemathesis-venv; RIVULET_SCHEMATHESIS names another binary.
 */
function findSchemathesis(): string | undefined {
  const candidates = [process.env.RIVULET_SCHEMATHESIS, join(homedir(), '.cache', 'rivulet-schemathesis-venv', 'bin', 'schemathesis')].filter((c): c is string => !!c);
  for (const c of candidates) if (existsSync(c)) return c;
  const onPath = spawnSync('schemathesis', ['--version'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'schemathesis' : undefined;
}

const BIN = findSchemathesis();
if (!BIN) {
  console.warn('schemathesis is not installed: skipping the OpenAPI fuzz test (pip install schemathesis, or run .ci/run which installs it)');
}

/** Examples per operation and phase: ~4,500 requests in about 40 s on 2 cores. */
const MAX_EXAMPLES = Number(process.env.RIVULET_SCHEMATHESIS_EXAMPLES ?? 20);
/** Fixed so CI is repeatable; set RIVULET_SCHEMATHESIS_SEED to explore other inputs. */
const SEED = process.env.RIVULET_SCHEMATHESIS_SEED ?? '20261205';
const CHECKS = ['not_a_server_error', 'response_schema_conformance', 'status_code_conformance', 'content_type_conformance'];

function run(bin: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe.skipIf(!BIN)('schemathesis against the OpenAPI document', () => {
  const tmp = tempDir('rivulet-schemathesis-');
  let app: Rivulet;
  let jwt: string;

  beforeAll(async () => {
    // The rate limit is off here: the fuzzer sends thousands of requests a minute from one address.
    app = await startTestServer({ RIVULET_DATA_DIR: join(tmp.dir, 'data'), RIVULET_API_RATE_LIMIT: '0' });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await app?.stop();
    tmp.remove();
  });

  it('finds no server error and no answer that breaks its own schema', async () => {
    // Entities for the generated requests to reach past 404: the fuzzer picks these ids often.
    const devices: string[] = [];
    for (let i = 0; i < 4; i++) {
      const d = await createDevice(app.url, jwt, `fuzz-device-${i}`);
      devices.push(d.id);
      await api(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/timeseries/ANY`, { method: 'POST', body: { temperature: 20 + i, on: true } });
      await api(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/attributes/SERVER_SCOPE`, { method: 'POST', body: { model: 'x', level: i } });
    }
    const dashboards: string[] = [];
    const chains: string[] = [];
    const alarms: string[] = [];
    for (let i = 0; i < 3; i++) {
      dashboards.push((await api<{ id: { id: string } }>(app.url, jwt, '/api/dashboard', { method: 'POST', body: { title: `fuzz ${i}`, configuration: { widgets: {} } } })).body.id.id);
      const chain = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain', { method: 'POST', body: { name: `fuzz chain ${i}` } });
      chains.push(chain.body.id.id);
      await api(app.url, jwt, '/api/ruleChain/metadata', {
        method: 'POST',
        body: { ruleChainId: chain.body.id.id, nodes: [{ type: 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode', name: 'save', configuration: {} }], connections: [] },
      });
      alarms.push((await api<{ id: { id: string } }>(app.url, jwt, '/api/alarm', { method: 'POST', body: { type: `fuzz ${i}`, originator: { entityType: 'DEVICE', id: devices[i] }, severity: 'MAJOR' } })).body.id.id);
    }
    const list = (ids: string[]) => `[${ids.map((id) => JSON.stringify(id)).join(', ')}]`;
    writeFileSync(
      join(tmp.dir, 'schemathesis.toml'),
      [
        `[dictionaries.devices]`,
        `values = ${list(devices)}`,
        `[dictionaries.dashboards]`,
        `values = ${list(dashboards)}`,
        `[dictionaries.chains]`,
        `values = ${list(chains)}`,
        `[dictionaries.alarms]`,
        `values = ${list(alarms)}`,
        `[dictionaries.nodes]`,
        `values = [0]`,
        `[parameters]`,
        `"path.deviceId" = { dictionary = "devices", probability = 0.6 }`,
        `"path.entityId" = { dictionary = "devices", probability = 0.6 }`,
        `"path.dashboardId" = { dictionary = "dashboards", probability = 0.6 }`,
        `"path.ruleChainId" = { dictionary = "chains", probability = 0.6 }`,
        `"path.alarmId" = { dictionary = "alarms", probability = 0.6 }`,
        `"path.nodeIndex" = { dictionary = "nodes", probability = 0.6 }`,
        `"body.deviceId.id" = { dictionary = "devices", probability = 0.6 }`,
        `"body.originator.id" = { dictionary = "devices", probability = 0.6 }`,
        `"body.ruleChainId.id" = { dictionary = "chains", probability = 0.6 }`,
        `"body.chainId.id" = { dictionary = "chains", probability = 0.6 }`,
        // Server-side RPC to a device without a session answers 504 by design, as ThingsBoard's
        // RpcV2Controller does (documented in the OpenAPI document and docs/api.md): allowed there only.
        `[[operations]]`,
        `include-path-regex = "^/api/(plugins/)?rpc/"`,
        `checks.not_a_server_error.expected-statuses = ["1XX", "2XX", "3XX", "4XX", 504]`,
        '',
      ].join('\n'),
    );

    const reportDir = join(tmp.dir, 'report');
    const args = [
      '--config-file', join(tmp.dir, 'schemathesis.toml'),
      '--no-color',
      'run', `${app.url}/api/openapi.json`,
      '-H', `X-Authorization: Bearer ${jwt}`,
      '--checks', CHECKS.join(','),
      '--max-examples', String(MAX_EXAMPLES),
      '--seed', SEED,
      '--workers', '2',
      '--request-timeout', '20',
      '--report', 'junit', '--report-dir', reportDir,
    ];
    const { code, output } = await run(BIN as string, args, tmp.dir, 170_000);
    const summary = output.slice(output.lastIndexOf('SUMMARY') >= 0 ? output.lastIndexOf('SUMMARY') - 40 : 0);
    // The counts go to the test log (and the CI log): operations, examples generated, failures.
    console.log(`schemathesis ${MAX_EXAMPLES} examples per operation, seed ${SEED}:\n${summary}`);

    const junitFile = readdirSync(reportDir).find((f) => f.endsWith('.xml'));
    expect(junitFile, output).toBeDefined();
    const junit = readFileSync(join(reportDir, junitFile as string), 'utf8');
    const suite = /<testsuite [^>]*tests="(\d+)"[^>]*/.exec(junit)?.[0] ?? '';
    const attr = (name: string) => Number(new RegExp(`${name}="(\\d+)"`).exec(suite)?.[1] ?? NaN);
    const generated = Number(/(\d+) generated/.exec(output)?.[1] ?? NaN);
    const tested = Number(/Tested: (\d+)/.exec(output)?.[1] ?? NaN);

    // Every REST operation was tested, and with many requests.
    const doc = (await (await fetch(`${app.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
    expect(tested).toBe(operations);
    expect(generated).toBeGreaterThan(operations * 10);
    expect({ failures: attr('failures'), errors: attr('errors'), exitCode: code }, output).toEqual({ failures: 0, errors: 0, exitCode: 0 });
  }, 200_000);
});
