import type { TestRunRequest, TestRunResultDto } from '@rivulet/api-types';
import type { NodeTypeDescriptor } from './node-types';

/** The sample message a person edits before testing a script node. */
export interface ScriptSample {
  msgType: string;
  /** JSON text of the message data. */
  data: string;
  /** JSON text of the metadata: an object of strings. */
  metadata: string;
}

export const DEFAULT_SAMPLE: ScriptSample = {
  msgType: 'POST_TELEMETRY_REQUEST',
  data: JSON.stringify({ temperature: 42, humidity: 73 }, null, 2),
  metadata: JSON.stringify({ deviceName: 'probe-1', deviceType: 'thermometer', ts: '1700000000000' }, null, 2),
};

/**
 * The test-run request for one node on its own: a one-node chain (unsaved, validated by the server
 * as on save) run at node 0, so the script runs exactly as configured in the panel, before any save.
 * Throws a readable error for a sample that is not JSON.
 */
export function scriptTestRequest(nodeType: NodeTypeDescriptor, configuration: Record<string, unknown>, sample: ScriptSample): TestRunRequest {
  const data = parseJson(sample.data, 'Message data');
  const metadata = parseJson(sample.metadata, 'Metadata');
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new Error('Metadata must be a JSON object');
  const meta = Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return {
    chain: {
      ruleChain: { name: 'Script test' },
      metadata: { firstNodeIndex: 0, nodes: [{ type: nodeType.type, name: nodeType.name, configuration }], connections: [] },
    },
    nodeIndex: 0,
    msg: { type: sample.msgType, data: data as TestRunRequest['msg']['data'], metadata: meta },
  };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

export interface ScriptTestOutcome {
  ok: boolean;
  /** The script's (or node's) error, when it failed. */
  error: string | null;
  outputs: { relation: string; msgType: string; data: unknown; metadata: Record<string, string> }[];
  writes: unknown[];
  logs: string[];
}

/** What the panel shows of a test run of the one node. */
export function scriptTestOutcome(result: TestRunResultDto): ScriptTestOutcome {
  const step = result.steps.find((s) => s.nodeIndex === 0) ?? result.steps[0];
  const error = step?.error ?? result.error ?? (result.timedOut ? 'The script did not finish within the test run limit (10 s)' : null);
  return {
    ok: error === null,
    error,
    outputs: (step?.outputs ?? []).map((o) => ({ relation: o.relation, msgType: o.msg.type, data: o.msg.data, metadata: o.msg.metadata })),
    writes: result.writes,
    logs: result.logs.map((l) => `${l.level}: ${l.msg}`),
  };
}
