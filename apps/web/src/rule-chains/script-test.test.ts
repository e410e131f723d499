import { describe, expect, it } from 'vitest';
import { TestRunRequestSchema } from '@rivulet/api-types';
import { DEFAULT_SAMPLE, scriptTestOutcome, scriptTestRequest } from './script-test';
import { eventRow, prettyJson } from './debug-events';
import type { NodeTypeDescriptor } from './node-types';

const filter = { type: 'rivulet.filter.script', name: 'script filter' } as NodeTypeDescriptor;

describe('script test request', () => {
  it('runs the node alone as node 0 of an unsaved one-node chain, in the shape the server accepts', () => {
    const req = scriptTestRequest(filter, { scriptLang: 'JS', jsScript: 'return msg.temperature > 20;' }, DEFAULT_SAMPLE);
    expect(TestRunRequestSchema.safeParse(req).success).toBe(true);
    expect(req.nodeIndex).toBe(0);
    expect(req.msg).toMatchObject({ type: 'POST_TELEMETRY_REQUEST', data: { temperature: 42 }, metadata: { deviceName: 'probe-1' } });
  });

  it('turns metadata values into strings and refuses a sample that is not JSON, saying which part', () => {
    expect(scriptTestRequest(filter, {}, { ...DEFAULT_SAMPLE, metadata: '{"n": 3, "ok": true}' }).msg.metadata).toEqual({ n: '3', ok: 'true' });
    expect(() => scriptTestRequest(filter, {}, { ...DEFAULT_SAMPLE, data: '{temperature: 1}' })).toThrow(/^Message data is not valid JSON/);
    expect(() => scriptTestRequest(filter, {}, { ...DEFAULT_SAMPLE, metadata: '[1]' })).toThrow('Metadata must be a JSON object');
  });

  it("reports a timed-out run as a failure even without a node error", () => {
    expect(scriptTestOutcome({ ok: false, error: null, timedOut: true, path: [], steps: [], writes: [], logs: [] })).toMatchObject({ ok: false, error: expect.stringContaining('10 s') });
  });
});

describe('debug events', () => {
  it('pretty-prints JSON text and keeps text that is not JSON', () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson('not json')).toBe('not json');
    const row = eventRow({
      id: { id: 'e1' },
      createdTime: 5,
      tenantId: { entityType: 'TENANT', id: 't' },
      entityId: { entityType: 'RULE_NODE', id: 'n' },
      type: 'DEBUG_RULE_NODE',
      body: { type: 'OUT', entityType: 'DEVICE', entityId: 'd', msgId: 'm', msgType: 'POST_TELEMETRY_REQUEST', relationType: 'True', dataType: 'JSON', data: '{"t":1}', metadata: '{}', error: null, nodeIndex: 0, nodeName: 'f', durationMs: 2 },
    } as Parameters<typeof eventRow>[0]);
    expect(row).toMatchObject({ id: 'e1', direction: 'OUT', relation: 'True', data: '{\n  "t": 1\n}' });
  });
});
