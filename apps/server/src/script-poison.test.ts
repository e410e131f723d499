import { recordingLogger, type LogEntry } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from './test-helpers';

/**
 * A script that sizes its work from the payload (issue #16): `new Array(msg.n).indexOf(1)` with
 * n = 1e9 loops inside a QuickJS built-in that never reaches an interrupt check, so only the
 * sandbox's watchdog (terminating its worker) stops it. That message must fail alone.
 */
const POISONABLE = 'var a = new Array(msg.n || 0); return {msg: {i: a.indexOf(1), v: msg.v}, metadata: metadata, msgType: msgType};';

function scriptChain() {
  const node = (type: string, name: string, configuration: unknown) => ({ type, name, debugMode: false, configuration });
  return {
    ruleChain: { name: 'Poisonable script', type: 'CORE', root: false, debugMode: false, configuration: { processingStrategy: { pauseBetweenRetriesMs: 50, maxPauseBetweenRetriesMs: 200 } } },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        node('rivulet.filter.msgTypeSwitch', 'Type', {}),
        node('rivulet.transformation.script', 'Size from payload', { scriptLang: 'JS', jsScript: POISONABLE }),
        node('rivulet.action.saveTimeseries', 'Save', { defaultTTL: 0 }),
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
        { fromIndex: 1, toIndex: 2, type: 'Success' },
      ],
      ruleChainConnections: null,
    },
  };
}

describe('a message that hangs the script sandbox fails alone (issue #16)', () => {
  let app: Rivulet;
  let jwt: string;
  const logs: LogEntry[] = [];
  const dir = tempDir();
  let chainId: string;

  beforeAll(async () => {
    app = await startTestServer(
      {
        RIVULET_DATA_DIR: dir.dir,
        // 4 attempts of the poisoned message: before the fix, 3 of them disabled the node for everyone.
        RIVULET_RULE_ENGINE_RETRIES: '3',
        RIVULET_SCRIPT_TIMEOUT_MS: '50',
        RIVULET_SCRIPT_DISABLE_COOLDOWN_MS: '1500',
      },
      { logger: recordingLogger(logs) },
    );
    jwt = await login(app.url);
    const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: scriptChain() });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    chainId = imported.body.id.id;
    expect((await api(app.url, jwt, `/api/ruleChain/${chainId}/root`, { method: 'POST' })).status).toBe(200);
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  const post = (token: string, body: unknown) =>
    fetch(`${app.url}/api/v1/${token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('one poisoned message is retried and skipped; another device\'s points are all stored', async () => {
    const bad = await createDevice(app.url, jwt, 'poisoner');
    const good = await createDevice(app.url, jwt, 'honest');
    expect((await post(good.token, { ts: 1000, values: { n: 3, v: 1 } })).status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.count(good.id)) === 2);

    const skippedBefore = app.ruleEngine!.stats().skipped;
    expect((await post(bad.token, { ts: 1000, values: { n: 1e9, v: 0 } })).status).toBe(200);
    // Every attempt of the poisoned message ran out; the message is given up (logged, dead-lettered), nothing stored.
    await eventually(async () => app.ruleEngine!.stats().skipped > skippedBefore, 30_000);
    expect(await app.storage.timeseries.count(bad.id)).toBe(0);
    const skipped = logs.find((l) => l.msg === 'message dead-lettered');
    expect(String(skipped?.fields.error)).toMatch(/time limit of 50 ms/);

    // The node still runs for everyone: the honest device's points after the poisoned message are stored.
    for (let i = 2; i <= 4; i++) expect((await post(good.token, { ts: i * 1000, values: { n: 3, v: i } })).status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.count(good.id)) === 8, 15_000);
    expect(logs.some((l) => l.msg === 'script disabled')).toBe(false);
  });

  interface Stats {
    nodes: Array<{ nodeIndex: number; strikes: number; disabledRefusals: number; disabledUntil: number }>;
  }

  it('distinct poisoned messages disable the node: reported (log, stats, debug events), re-enabled after the cool-down', async () => {
    const bad = await createDevice(app.url, jwt, 'poisoner-2');
    const good = await createDevice(app.url, jwt, 'honest-2');
    // Three different messages (RIVULET_SCRIPT_MAX_STRIKES defaults to 3).
    for (let i = 1; i <= 3; i++) expect((await post(bad.token, { ts: i * 1000, values: { n: 1e9 + i, v: 0 } })).status).toBe(200);
    const disabled = await eventually(async () => {
      const r = await api<Stats>(app.url, jwt, `/api/ruleChain/${chainId}/stats`);
      const n = r.body.nodes.find((x) => x.nodeIndex === 1);
      return n && n.disabledUntil > 0 ? n : undefined;
    }, 30_000);
    expect(disabled.strikes).toBeGreaterThanOrEqual(3);
    const logged = logs.find((l) => l.msg === 'rule node disabled');
    expect(String(logged?.fields.error)).toMatch(/disabled until .*3 different messages hit its time limit or crashed the sandbox/);

    // While disabled, a message is refused: a failure in the node's debug events, counted.
    expect((await post(good.token, { ts: 1000, values: { n: 1, v: 1 } })).status).toBe(200);
    await eventually(async () => {
      const r = await api<{ data: Array<{ body: { error: string | null } }> }>(app.url, jwt, `/api/ruleChain/${chainId}/node/1/debug?pageSize=50&page=0`);
      return r.body.data.some((e) => /is disabled until/.test(e.body.error ?? ''));
    });
    expect((await api<Stats>(app.url, jwt, `/api/ruleChain/${chainId}/stats`)).body.nodes[1]!.disabledRefusals).toBeGreaterThanOrEqual(1);

    // After the cool-down (1.5 s here) the node runs again without the chain being saved.
    await eventually(async () => (await api<Stats>(app.url, jwt, `/api/ruleChain/${chainId}/stats`)).body.nodes[1]!.disabledUntil === 0, 10_000);
    expect((await post(good.token, { ts: 2000, values: { n: 1, v: 2 } })).status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.findLatest(good.id, ['v']))[0]?.value === 2, 10_000);
  });
});

