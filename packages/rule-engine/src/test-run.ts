import {
  BadRequestError,
  createMsg,
  errorMessage,
  newId,
  type AttributeKv,
  type AttributeScope,
  type AttributeWrite,
  type EntityId,
  type JsonValue,
  type Logger,
  type Msg,
  type TsKv,
  type ToDeviceRpcRequest,
  type ToServerRpcReply,
  type TsPoint,
} from '@rivulet/core';
import { newRuleAlarm } from './alarm';
import { compileRuleChain, validateRuleChain, type CompiledChain, type NodeTrace, type ValidatedChain } from './chain';
import { createRecordingOutbound, type RecordedHttpCall, type RecordedMqttPublish } from './recording-outbound';
import type { NodeRegistry } from './registry';
import { bindServicesToTenant, checkChainForTenant } from './tenant-services';
import type { EntityOwnership, AlarmService, KafkaService, RuleAlarm, RuleChainResolver, RuleNodeServices, RuleRpcService } from './types';

/** A write (or other side effect) a node asked for during a test run: recorded, never carried out. */
export type RecordedWrite =
  | { kind: 'timeseries'; points: TsPoint[] }
  | { kind: 'attributes'; items: AttributeWrite[] }
  | { kind: 'attributesDelete'; entityId: string; scope: AttributeScope; keys: string[] }
  | { kind: 'alarm'; action: 'createOrUpdate'; created: boolean; alarm: RuleAlarm }
  | { kind: 'alarm'; action: 'clear'; alarm: RuleAlarm }
  | { kind: 'kafka'; record: { topic: string; key: string | null; value: string; headers?: Record<string, string> } }
  | { kind: 'rpcToDevice'; request: ToDeviceRpcRequest }
  | { kind: 'rpcReply'; reply: ToServerRpcReply }
  | RecordedHttpCall
  | RecordedMqttPublish;

export interface RecordedLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

export interface DryRunOptions {
  /**
   * Other chains, for the rule chain node: compiled on these same dry-run services (so a called
   * chain writes nothing either). Absent: the node fails its message, as without the capability.
   */
  ruleChains?: RuleChainResolver;
  /**
   * An entity that exists only in this run (the made-up originator of a sample without one): it is
   * the run's tenant's, and reads of it never reach the real services (which would refuse it).
   */
  localId?: string;
}

/**
 * Services with the side effects taken out: writes are recorded and not stored, reads go to the real
 * services with the run's own writes laid over them (a node that reads what an earlier node of the
 * run wrote sees it), logs are kept for the result instead of the server log, Kafka records and RPC
 * calls to devices are kept instead of sent, HTTP calls and MQTT publishes are recorded instead of
 * made (createRecordingOutbound). Script sandboxes and device lookups are side-effect free and used as they are.
 *
 * Every capability of RuleNodeServices needs its dry-run variant here: when one is added, add it
 * below, or test runs would carry out its side effects.
 */
export function createDryRunServices(real: RuleNodeServices, options: DryRunOptions = {}): { services: RuleNodeServices; writes: RecordedWrite[]; logs: RecordedLog[] } {
  const writes: RecordedWrite[] = [];
  const logs: RecordedLog[] = [];
  const logger = recordingLogger(logs, {});
  const recordedPoints = (): TsPoint[] => writes.flatMap((w) => (w.kind === 'timeseries' ? w.points : []));
  /** The active alarm of each (originator, type) slot the run touched; null: none (cleared by the run). */
  const activeAlarms = new Map<string, RuleAlarm | null>();
  const alarmsById = new Map<string, RuleAlarm>();
  const local = options.localId;
  const boundHistory = real.timeseries.findHistory?.bind(real.timeseries);
  const realHistory = boundHistory && ((id: string, q: Parameters<typeof boundHistory>[1]) => (id === local ? Promise.resolve({}) : boundHistory(id, q)));
  const realAlarms = real.alarms;
  const realKafka = real.kafka;

  const alarms: AlarmService | undefined = realAlarms && {
    async findActive(tenantId, originatorId, type) {
      const key = `${originatorId}|${type}`;
      if (activeAlarms.has(key)) return activeAlarms.get(key) ?? null;
      const found = originatorId === local ? null : await realAlarms.findActive(tenantId, originatorId, type);
      if (found) alarmsById.set(found.id, found);
      return found;
    },
    async createOrUpdate(input) {
      const existing = await alarms!.findActive(input.tenantId, input.originatorId, input.type);
      const alarm: RuleAlarm = existing
        ? { ...existing, severity: input.severity, endTs: Math.max(existing.endTs, input.ts), details: input.details ?? existing.details }
        : newRuleAlarm(input, real.now());
      activeAlarms.set(`${alarm.originatorId}|${alarm.type}`, alarm);
      alarmsById.set(alarm.id, alarm);
      writes.push({ kind: 'alarm', action: 'createOrUpdate', created: !existing, alarm });
      return { alarm, created: !existing };
    },
    async clear(_tenantId, id, ts, details) {
      const known = alarmsById.get(id);
      if (!known) return null;
      if (known.cleared) return known;
      const alarm: RuleAlarm = { ...known, cleared: true, clearTs: ts, details: details ?? known.details };
      alarmsById.set(id, alarm);
      // Its slot is free now: later lookups must not find the (still active) real one again.
      activeAlarms.set(`${alarm.originatorId}|${alarm.type}`, null);
      writes.push({ kind: 'alarm', action: 'clear', alarm });
      return alarm;
    },
  };

  // RPC to devices is recorded, not sent; the call is answered as delivered (without a device reply).
  const rpc: RuleRpcService | undefined = real.rpc && {
    async sendToDevice(request) {
      writes.push({ kind: 'rpcToDevice', request });
      return { kind: 'delivered' };
    },
    replyToDevice(reply) {
      writes.push({ kind: 'rpcReply', reply });
    },
  };

  // Records kept, never sent: no producer is made (nor counted against the deployment's bound).
  const kafka: KafkaService | undefined = realKafka && {
    producer: () => ({
      async send(record) {
        const headers = record.headers && Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k, typeof v === 'string' ? v : new TextDecoder().decode(v)]));
        writes.push({ kind: 'kafka', record: { topic: record.topic, key: record.key, value: record.value, ...(headers ? { headers } : {}) } });
      },
    }),
  };

  const services: RuleNodeServices = {
    logger,
    now: () => real.now(),
    timeseries: {
      async save(points) {
        writes.push({ kind: 'timeseries', points: [...points] });
      },
      async findLatest(entityId, keys) {
        const latest = new Map<string, TsKv>((entityId === local ? [] : await real.timeseries.findLatest(entityId, keys)).map((kv) => [kv.key, kv]));
        for (const p of recordedPoints()) {
          if (p.entityId !== entityId || (keys && !keys.includes(p.key))) continue;
          const cur = latest.get(p.key);
          if (!cur || cur.ts <= p.ts) latest.set(p.key, { key: p.key, ts: p.ts, value: p.value });
        }
        return [...latest.values()];
      },
      ...(realHistory ? { findHistory: realHistory } : {}),
    },
    attributes: {
      async save(items) {
        writes.push({ kind: 'attributes', items: [...items] });
      },
      async find(entityId, scope, keys) {
        const out = new Map<string, AttributeKv>((entityId === local ? [] : await real.attributes.find(entityId, scope, keys)).map((a) => [a.key, a]));
        for (const w of writes) {
          if (w.kind === 'attributes') {
            for (const a of w.items) {
              if (a.entityId === entityId && a.scope === scope && (!keys || keys.includes(a.key))) out.set(a.key, { key: a.key, value: a.value, lastUpdateTs: a.lastUpdateTs });
            }
          } else if (w.kind === 'attributesDelete' && w.entityId === entityId && w.scope === scope) {
            for (const k of w.keys) out.delete(k);
          }
        }
        return [...out.values()];
      },
      async delete(entityId, scope, keys) {
        const existing = await services.attributes.find(entityId, scope, keys);
        writes.push({ kind: 'attributesDelete', entityId, scope, keys: [...keys] });
        return existing.length;
      },
    },
    ...(alarms ? { alarms } : {}),
    ...(kafka ? { kafka } : {}),
    ...(rpc ? { rpc } : {}),
    // Always the recording one, whether or not the real services call out: nothing leaves the process.
    outbound: createRecordingOutbound((call) => writes.push(call), real.outbound),
    // Read-only or pure: used as they are.
    ...(real.devices ? { devices: local ? { get: (t, id) => (id === local ? Promise.resolve(null) : real.devices!.get(t, id)) } : real.devices } : {}),
    ...(real.deviceProfiles
      ? { deviceProfiles: local ? { getForDevice: (t, id) => (id === local ? Promise.resolve(null) : real.deviceProfiles!.getForDevice(t, id)) } : real.deviceProfiles }
      : {}),
    ...(real.scripts ? { scripts: real.scripts } : {}),
    // The tenant's limits apply to test runs too (script time and memory).
    ...(real.limits ? { limits: real.limits } : {}),
    // No ruleNodeStates: a test run's nodes keep their state in memory and never write the real one.
    // Never the real resolver: its chains run on the real services.
    ...(options.ruleChains ? { ruleChains: options.ruleChains } : {}),
  };
  // Bound real services: the recorded writes are checked like real ones (another tenant's entity fails the message).
  const scope = real.tenant && local ? { tenantId: real.tenant.tenantId, ownership: withLocal(real.tenant.ownership, local) } : real.tenant;
  return { services: scope ? bindServicesToTenant(services, scope) : services, writes, logs };
}

function withLocal(ownership: EntityOwnership, localId: string): EntityOwnership {
  return { owns: (tenantId, entityId) => entityId === localId || ownership.owns(tenantId, entityId) };
}

function recordingLogger(logs: RecordedLog[], bound: Record<string, unknown>): Logger {
  const at =
    (level: RecordedLog['level']) =>
    (fields: Record<string, unknown>, msg: string): void => {
      if (logs.length < 1000) logs.push({ level, msg, fields: { ...bound, ...fields } });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => recordingLogger(logs, { ...bound, ...more }),
  } as Logger;
}

/** A message as a test run shows it (the tenant is implied). */
export interface TestRunMsg {
  id: string;
  ts: number;
  type: string;
  originator: EntityId;
  metadata: Record<string, string>;
  data: JsonValue;
}

export interface TestRunStep {
  /** The chain the node belongs to: the tested one, or one it called through a rule chain node. */
  chainId: string;
  nodeIndex: number;
  nodeName: string;
  nodeType: string;
  in: TestRunMsg;
  outputs: Array<{ relation: string; msg: TestRunMsg; targets: number[] }>;
  error: string | null;
  durationMs: number;
}

export interface TestRunResult {
  /** The message came through without an unhandled Failure (and within the time limit). */
  ok: boolean;
  error: string | null;
  timedOut: boolean;
  /** Node indices in the order they were entered (those of called chains included; see steps[].chainId). */
  path: number[];
  steps: TestRunStep[];
  writes: RecordedWrite[];
  logs: RecordedLog[];
}

export interface TestRunInput {
  /** The chain in ThingsBoard's export shape ({ruleChain, metadata}); validated like a save. */
  chain: unknown;
  /** Shown in traces; a fresh id when absent. */
  chainId?: string;
  /** Run only this node (its routes are reported, not followed). */
  nodeIndex?: number;
  msg: { type: string; data: JsonValue; metadata?: Record<string, string>; originator?: EntityId; ts?: number };
  tenantId: string;
  registry: NodeRegistry;
  /** The real services, bound to `tenantId` (see createTenantServices): reads go to them, writes never do. */
  services: RuleNodeServices;
  /** Longest the run may take (nodes that wait: delays, external calls). Default 10 s. */
  timeoutMs?: number;
  /** Another chain of the tenant in ThingsBoard's JSON (for rule chain nodes); null when there is none. */
  loadChain?: (tenantId: string, chainId: string) => Promise<unknown | null>;
}

function view(m: Msg): TestRunMsg {
  return { id: m.id, ts: m.ts, type: m.type, originator: { ...m.originator }, metadata: { ...m.metadata }, data: m.data };
}

/**
 * Runs one sample message through a chain (or one node of it) without side effects on storage and
 * reports the path taken and what each node did. What the editor's "test" button calls.
 * InvalidRuleChainError when the chain does not validate (as on save), a RivuletError BAD_REQUEST
 * when nodeIndex names no node.
 */
export async function testRunChain(input: TestRunInput): Promise<TestRunResult> {
  if (input.services.tenant && input.services.tenant.tenantId !== input.tenantId) {
    throw new BadRequestError(`Test run for tenant ${input.tenantId} on services bound to another tenant`);
  }
  const validated = validateRuleChain(input.chain, input.registry);
  await checkChainForTenant(validated, input.services);
  let chain: ValidatedChain = validated;
  if (input.nodeIndex !== undefined) {
    const node = validated.nodes.find((n) => n.index === input.nodeIndex);
    if (!node) {
      throw new BadRequestError(`nodeIndex ${input.nodeIndex} does not point at a node (the chain has ${validated.nodes.length})`);
    }
    // The node alone: its routes are reported with the nodes they would lead to, not followed.
    chain = { ...validated, firstNodeIndex: node.index, nodes: [node], links: validated.links.map(() => new Map()) };
  }
  const traces: NodeTrace[] = [];
  const sink = { record: (t: NodeTrace) => void traces.push(t) };
  // Sub-millisecond start times: steps of called chains interleave with the caller's in entry order.
  const clock = () => performance.timeOrigin + performance.now();
  const compiledChains: CompiledChain[] = [];
  const called = new Map<string, Promise<CompiledChain | null>>();
  const loadChain = input.loadChain;
  const resolver: RuleChainResolver | undefined = loadChain && {
    get(tenantId, chainId) {
      let p = called.get(chainId);
      if (!p) {
        p = (async () => {
          const json = await loadChain(tenantId, chainId);
          if (json === null) return null;
          const nested = validateRuleChain(json, input.registry);
          await checkChainForTenant(nested, input.services);
          const c = compileRuleChain({ id: chainId, chain: nested, ...common });
          compiledChains.push(c);
          return c;
        })();
        called.set(chainId, p);
      }
      return p;
    },
  };
  // No originator given: a fresh id that names nothing stored, which the run's services accept as the tenant's.
  const originator = input.msg.originator ?? { entityType: 'DEVICE', id: newId() };
  const dry = createDryRunServices(input.services, { ...(resolver ? { ruleChains: resolver } : {}), ...(input.msg.originator ? {} : { localId: originator.id }) });
  const common = {
    services: dry.services,
    logger: dry.services.logger,
    debugSink: sink,
    traceAll: true,
    startNodes: false,
    tenantId: input.tenantId,
    now: clock,
  };
  const compiled = compileRuleChain({ id: input.chainId ?? newId(), chain, ...common });
  compiledChains.push(compiled);
  const msg = createMsg({
    type: input.msg.type,
    originator,
    tenantId: input.tenantId,
    metadata: input.msg.metadata ?? {},
    data: input.msg.data,
    ...(input.msg.ts !== undefined ? { ts: input.msg.ts } : {}),
  });
  const timeoutMs = input.timeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let outcome: { ok: boolean; error?: string | undefined } | 'timeout';
  try {
    outcome = await Promise.race([
      compiled.run(msg),
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      }),
    ]);
  } catch (e) {
    outcome = { ok: false, error: errorMessage(e) };
  } finally {
    if (timer) clearTimeout(timer);
    await Promise.allSettled(compiledChains.map((c) => c.destroy()));
  }
  const sorted = [...traces].sort((a, b) => a.startTs - b.startTs || a.seq - b.seq);
  const steps: TestRunStep[] = sorted.map((t) => ({
    chainId: t.chainId,
    nodeIndex: t.nodeIndex,
    nodeName: t.nodeName,
    nodeType: t.nodeType,
    in: view(t.msgIn),
    outputs: t.routes.map((r) => ({
      relation: r.relation,
      msg: view(r.msg),
      targets: input.nodeIndex !== undefined && t.chainId === compiled.id ? [...(validated.links[t.nodeIndex]?.get(r.relation) ?? [])] : [...r.targets],
    })),
    error: t.error,
    durationMs: Math.round(t.durationMs * 1000) / 1000,
  }));
  const timedOut = outcome === 'timeout';
  return {
    ok: outcome !== 'timeout' && outcome.ok,
    error: outcome === 'timeout' ? `The run did not finish within ${timeoutMs} ms` : (outcome.error ?? null),
    timedOut,
    path: steps.map((s) => s.nodeIndex),
    steps,
    // Copies: a node still running after a timeout must not change the answer.
    writes: dry.writes.map((w) => ({ ...w })),
    logs: [...dry.logs],
  };
}
