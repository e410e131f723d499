import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
const SYSADMIN = { username: 'sysadmin@rivulet.local', password: 'fuzz-sysadmin-pw-1' };
/**
 * Not fuzzed, in either run: POST /api/auth/logout and /api/auth/changePassword would end (or
 * replace) the very session whose JWT the fuzzer sends, so every later request would answer 401;
 * POST /api/auth/login with generated wrong passwords would trip the per-address lockout of the
 * login throttle (auth-lockout.test.ts and login-throttle.test.ts test those routes for real).
 */
const NOT_FUZZED = ['^/api/auth/(logout|changePassword|login)$'];
/** The operations only a SYS_ADMIN passes (a tenant administrator gets 403 on the tenant ones). */
const SYSADMIN_PATHS = '^/api/(tenant|user)';
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
  let sysJwt: string;

  beforeAll(async () => {
    // The rate limit is off here: the fuzzer sends thousands of requests a minute from one address.
    app = await startTestServer({ RIVULET_DATA_DIR: join(tmp.dir, 'data'), RIVULET_API_RATE_LIMIT: '0', RIVULET_SYSADMIN_PASSWORD: SYSADMIN.password });
    jwt = await login(app.url);
    const r = await fetch(`${app.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SYSADMIN) });
    expect(r.status).toBe(200);
    sysJwt = ((await r.json()) as { token: string }).token;
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
    // Tenancy entities: a customer with device 0 assigned and a customer user of it.
    const customers: string[] = [];
    for (let i = 0; i < 2; i++) customers.push((await api<{ id: { id: string } }>(app.url, jwt, '/api/customer', { method: 'POST', body: { title: `fuzz customer ${i}` } })).body.id.id);
    expect((await api(app.url, jwt, `/api/customer/${customers[0]}/device/${devices[0]}`, { method: 'POST' })).status).toBe(200);
    const customerUser = await api<{ id: { id: string } }>(app.url, jwt, '/api/user', {
      method: 'POST',
      body: { email: 'fuzz-customer-user@rivulet.local', authority: 'CUSTOMER_USER', customerId: { id: customers[0] }, password: 'fuzz-user-pw-1' },
    });
    expect(customerUser.status).toBe(200);
    // The SYS_ADMIN run works on a throwaway tenant with its administrator, never the tenant the
    // first run's JWT belongs to (DELETE /api/tenant/{tenantId} on it would end that run early).
    const tenant = await api<{ id: { id: string } }>(app.url, sysJwt, '/api/tenant', { method: 'POST', body: { title: 'fuzz tenant' } });
    expect(tenant.status).toBe(200);
    const tenantAdmin = await api<{ id: { id: string } }>(app.url, sysJwt, '/api/user', {
      method: 'POST',
      body: { email: 'fuzz-tenant-admin@rivulet.local', authority: 'TENANT_ADMIN', tenantId: { id: tenant.body.id.id }, password: 'fuzz-admin-pw-1' },
    });
    expect(tenantAdmin.status).toBe(200);

    const list = (ids: string[]) => `[${ids.map((id) => JSON.stringify(id)).join(', ')}]`;
    const common = [
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
      `[dictionaries.customers]`,
      `values = ${list(customers)}`,
    ];
    const tenantAdminConfig = [
      ...common,
      `[dictionaries.users]`,
      `values = ${list([customerUser.body.id.id])}`,
      `[parameters]`,
      `"path.deviceId" = { dictionary = "devices", probability = 0.6 }`,
      `"path.entityId" = { dictionary = "devices", probability = 0.6 }`,
      `"path.dashboardId" = { dictionary = "dashboards", probability = 0.6 }`,
      `"path.ruleChainId" = { dictionary = "chains", probability = 0.6 }`,
      `"path.alarmId" = { dictionary = "alarms", probability = 0.6 }`,
      `"path.nodeIndex" = { dictionary = "nodes", probability = 0.6 }`,
      `"path.customerId" = { dictionary = "customers", probability = 0.6 }`,
      `"path.userId" = { dictionary = "users", probability = 0.6 }`,
      `"body.deviceId.id" = { dictionary = "devices", probability = 0.6 }`,
      `"body.originator.id" = { dictionary = "devices", probability = 0.6 }`,
      `"body.ruleChainId.id" = { dictionary = "chains", probability = 0.6 }`,
      `"body.chainId.id" = { dictionary = "chains", probability = 0.6 }`,
      `"body.customerId.id" = { dictionary = "customers", probability = 0.6 }`,
      // Server-side RPC to a device without a session answers 504 by design, as ThingsBoard's
      // RpcV2Controller does (documented in the OpenAPI document and docs/api.md): allowed there only.
      `[[operations]]`,
      `include-path-regex = "^/api/(plugins/)?rpc/"`,
      `checks.not_a_server_error.expected-statuses = ["1XX", "2XX", "3XX", "4XX", 504]`,
      '',
    ];
    const sysAdminConfig = [
      ...common,
      `[dictionaries.tenants]`,
      `values = ${list([tenant.body.id.id])}`,
      `[dictionaries.users]`,
      `values = ${list([tenantAdmin.body.id.id])}`,
      `[parameters]`,
      `"path.tenantId" = { dictionary = "tenants", probability = 0.6 }`,
      `"path.userId" = { dictionary = "users", probability = 0.6 }`,
      `"path.customerId" = { dictionary = "customers", probability = 0.6 }`,
      `"body.tenantId.id" = { dictionary = "tenants", probability = 0.6 }`,
      '',
    ];

    const doc = (await (await fetch(`${app.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const count = (pathFilter: (p: string) => boolean) => Object.entries(doc.paths).reduce((n, [p, ops]) => n + (pathFilter(p) ? Object.keys(ops).length : 0), 0);
    const notFuzzed = (p: string) => NOT_FUZZED.some((re) => new RegExp(re).test(p));

    // Run 1: the tenant administrator's JWT on every operation but the three above (the SYS_ADMIN
    // ones answer 403, which their schema documents). Run 2: the system administrator's JWT on the
    // tenant and user operations, where it gets past 403.
    const runs = [
      { name: 'tenant admin', token: jwt, config: tenantAdminConfig, filter: NOT_FUZZED.flatMap((re) => ['--exclude-path-regex', re]), expected: count((p) => !notFuzzed(p)) },
      { name: 'sysadmin', token: sysJwt, config: sysAdminConfig, filter: ['--include-path-regex', SYSADMIN_PATHS], expected: count((p) => new RegExp(SYSADMIN_PATHS).test(p) && !notFuzzed(p)) },
    ];
    for (const r of runs) {
      const dir = join(tmp.dir, r.name.replace(/ /g, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'schemathesis.toml'), r.config.join('\n'));
      const reportDir = join(dir, 'report');
      const args = [
        '--config-file', join(dir, 'schemathesis.toml'),
        '--no-color',
        'run', `${app.url}/api/openapi.json`,
        '-H', `X-Authorization: Bearer ${r.token}`,
        ...r.filter,
        '--checks', CHECKS.join(','),
        '--max-examples', String(MAX_EXAMPLES),
        '--seed', SEED,
        '--workers', '2',
        '--request-timeout', '20',
        '--report', 'junit', '--report-dir', reportDir,
      ];
      const { code, output } = await run(BIN as string, args, dir, 170_000);
      const junitFile = existsSync(reportDir) ? readdirSync(reportDir).find((f) => f.endsWith('.xml')) : undefined;
      expect(junitFile, output).toBeDefined();
      const junit = readFileSync(join(reportDir, junitFile as string), 'utf8');
      const suite = /<testsuite [^>]*tests="(\d+)"[^>]*/.exec(junit)?.[0] ?? '';
      const attr = (name: string) => Number(new RegExp(`${name}="(\\d+)"`).exec(suite)?.[1] ?? NaN);
      const generated = Number(/(\d+) generated/.exec(output)?.[1] ?? NaN);
      const tested = Number(/Tested: (\d+)/.exec(output)?.[1] ?? NaN);
      // The counts go to the test log (and the CI log) as one line of ours. schemathesis' own summary
      // ends in a pytest-style banner ("=== 3 warnings in 10s ===") that a CI log reader takes for a
      // test runner that ran nothing, so it is only shown when the run fails (the expectations below).
      console.log(`schemathesis (${r.name} JWT): ${tested} operations, ${generated} cases generated, ` +
        `${MAX_EXAMPLES} examples per operation, seed ${SEED}, failures ${attr('failures')}, errors ${attr('errors')}`);

      // Every operation of the run was tested, and with many requests.
      expect(tested, r.name).toBe(r.expected);
      expect(generated, r.name).toBeGreaterThan(r.expected * 10);
      expect({ run: r.name, failures: attr('failures'), errors: attr('errors'), exitCode: code }, output).toEqual({ run: r.name, failures: 0, errors: 0, exitCode: 0 });
    }
  }, 400_000);
});
