import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DebugEventDto, PageData, RuleChainDto, TestRunResultDto } from '@rivulet/api-types';
import { adminApi, startWebServer, type WebServer } from './harness';
import { DEFAULT_SAMPLE, scriptTestOutcome, scriptTestRequest } from '../src/rule-chains/script-test';
import { parseServerError } from '../src/rule-chains/node-config-errors';
import { eventRow } from '../src/rule-chains/debug-events';
import type { NodeTypeDescriptor } from '../src/rule-chains/node-types';

// What the node configuration and events panels send, against the real server (no browser: the
// panels are mounted by the rule-chain editor; these are the requests and answers they rely on).
describe('node config panel requests against the server', () => {
  let server: WebServer;
  let call: Awaited<ReturnType<typeof adminApi>>;
  let catalog: NodeTypeDescriptor[];
  const typeOf = (t: string) => catalog.find((n) => n.type === t)!;
  const testRun = (nodeType: string, configuration: Record<string, unknown>) =>
    call<TestRunResultDto>('/api/ruleChain/testRun', { method: 'POST', body: scriptTestRequest(typeOf(nodeType), configuration, DEFAULT_SAMPLE) });

  beforeAll(async () => {
    server = await startWebServer();
    call = await adminApi(server);
    catalog = await call<NodeTypeDescriptor[]>('/api/ruleChain/nodeTypes');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('tests a filter script on the sample and shows the relation it left by', async () => {
    const out = scriptTestOutcome(await testRun('rivulet.filter.script', { scriptLang: 'JS', jsScript: 'return msg.temperature > 40;' }));
    expect(out).toMatchObject({ ok: true, error: null });
    expect(out.outputs.map((o) => o.relation)).toEqual(['True']);
  });

  it("tests a transform script and shows the message it produced", async () => {
    const out = scriptTestOutcome(await testRun('rivulet.transformation.script', { scriptLang: 'JS', jsScript: 'msg.f = msg.temperature * 9 / 5 + 32; return {msg: msg, metadata: metadata, msgType: msgType};' }));
    expect(out.ok).toBe(true);
    expect(out.outputs[0]).toMatchObject({ relation: 'Success', data: { temperature: 42, f: 107.6 } });
  });

  it('shows a runtime error of the script as the failure', async () => {
    const out = scriptTestOutcome(await testRun('rivulet.filter.script', { scriptLang: 'JS', jsScript: 'return msg.nothing.deeper;' }));
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/deeper|undefined/);
  });

  it('a syntax error is refused by the server with the script field named, which maps onto the code editor', async () => {
    const err = await testRun('rivulet.filter.script', { scriptLang: 'JS', jsScript: 'return msg.temperature > ;' }).then(
      () => null,
      (e: Error) => e.message,
    );
    // Either refused on validation (400) or failed in the run: both must name jsScript.
    const message = err ?? scriptTestOutcome(await testRun('rivulet.filter.script', { scriptLang: 'JS', jsScript: 'return msg.temperature > ;' })).error!;
    const text = message.replace(/^POST \S+: \d+ /, '');
    const fromJson = (() => {
      try {
        return (JSON.parse(text) as { message: string }).message;
      } catch {
        return text;
      }
    })();
    expect(parseServerError(fromJson)).toMatchObject({ nodeIndex: 0, path: 'jsScript', message: expect.stringContaining('SyntaxError') });
  });

  it('tests an alarm details script: the alarm it would raise is recorded, not stored', async () => {
    const out = scriptTestOutcome(await testRun('rivulet.action.createAlarm', { alarmType: 'Hot', severity: 'MAJOR', scriptLang: 'JS', alarmDetailsBuildJs: 'return {t: msg.temperature};' }));
    expect(out.ok).toBe(true);
    expect(JSON.stringify(out.writes)).toContain('"t":42');
    expect((await call<PageData<unknown>>('/api/alarms?pageSize=10&page=0')).totalElements).toBe(0);
  });

  it('reads a node\'s debug events in the shape the events panel shows', async () => {
    const chain = await call<RuleChainDto>('/api/ruleChain', { method: 'POST', body: { name: 'events panel' } });
    const page = await call<PageData<DebugEventDto>>(`/api/ruleChain/${chain.id.id}/node/0/debug?pageSize=20&page=0`).catch((e: Error) => e);
    // A chain without nodes has no node 0: the panel shows the server's message then.
    if (page instanceof Error) expect(page.message).toMatch(/404|400/);
    else expect(page.data.map(eventRow)).toEqual([]);
  });
});
