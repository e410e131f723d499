import type {
  AttributeScope,
  JsonObject,
  AttributeWrite,
  JsonValue,
  KvValue,
  Logger,
  Msg,
  RpcOutcome,
  TsPoint,
  AttributeKv,
  TsKv,
  TenantLimits,
  ToDeviceRpcRequest,
  ToServerRpcReply,
} from '@rivulet/core';
import type { z } from 'zod';
import type { OutboundService } from './outbound';

/** Relation names (link labels) shared by many nodes. Node-specific ones live beside their node. */
export const Relation = {
  SUCCESS: 'Success',
  FAILURE: 'Failure',
  TRUE: 'True',
  FALSE: 'False',
  OTHER: 'Other',
} as const;

/** Where a message leaves a node: the chain decides which nodes that relation leads to. */
export interface Route {
  readonly relation: string;
  readonly msg: Msg;
  /**
   * Set only by the output node: the message leaves the running chain by `relation` (no link is
   * followed); the rule chain node that called this chain sends it on by that relation.
   */
  readonly chainOutput?: boolean;
}

export type NodeCategory = 'filter' | 'sampling' | 'enrichment' | 'transformation' | 'action' | 'external' | 'flow';

/**
 * The few capabilities a node may use (instead of ThingsBoard's god-object context). Writes are
 * batched behind these calls: many concurrent messages share one statement.
 */
export interface RuleNodeServices {
  readonly logger: Logger;
  readonly timeseries: {
    save(points: ReadonlyArray<TsPoint>): Promise<void>;
    findLatest(entityId: string, keys?: readonly string[]): Promise<TsKv[]>;
    /** History per key in [startTs, endTs) (storage's findHistory); absent: the telemetry node reads latest values only. */
    findHistory?(entityId: string, query: TsHistoryQuery): Promise<Record<string, TsKv[]>>;
  };
  readonly attributes: {
    save(items: ReadonlyArray<AttributeWrite>): Promise<void>;
    find(entityId: string, scope: AttributeScope, keys?: readonly string[]): Promise<AttributeKv[]>;
    delete(entityId: string, scope: AttributeScope, keys: readonly string[]): Promise<number>;
  };
  /** Current time; injectable for tests. */
  now(): number;
  // Optional capabilities (NodeCapability): a node declares the ones it needs (`requires`), and a
  // chain with a node whose capability the deployment lacks is refused when it is saved or loaded
  // (checkChainCapabilities), so a process can run without, e.g., Kafka.
  /** Alarms (create / clear alarm nodes). */
  readonly alarms?: AlarmService;
  /** Device lookups by id (originator fields, device type switch). */
  readonly devices?: DeviceLookup;
  /** The device profile of a device (the device profile node evaluates its alarm rules). */
  readonly deviceProfiles?: DeviceProfileLookup;
  /** Other rule chains of a tenant, compiled (the rule chain node). */
  readonly ruleChains?: RuleChainResolver;
  /** Kafka producers for the Kafka node (@rivulet/outbound's createKafkaService); absent when the deployment offers none. */
  readonly kafka?: KafkaService;
  /** Script sandbox for script nodes; absent: the rule-nodes package's shared default. */
  readonly scripts?: ScriptRunner;
  /** RPC with devices (the RPC call request / reply nodes); the server backs it with the broadcast. */
  readonly rpc?: RuleRpcService;
  /** Calls out of the platform (REST API call, MQTT publish), checked against the outbound policy. */
  readonly outbound?: OutboundService;
  /**
   * Set by bindServicesToTenant: the tenant these services are bound to. Every call above that takes
   * an entity id refuses entities of other tenants; test runs and chain loads check with it too.
   */
  readonly tenant?: TenantScope;
  /**
   * The limits of the tenant these services are bound to (its profile over the global defaults),
   * read when needed: script time and memory when a node compiles its script, the node count and
   * generator period when a chain is saved or loaded. Absent: no tenant limits apply.
   */
  readonly limits?: () => TenantLimits;
  /**
   * Hands a new message to the rule engine's queue (ThingsBoard's ctx.enqueue), e.g. the
   * ATTRIBUTES_UPDATED notification of the save attributes node. Bound to the tenant: a message of
   * another tenant or about another tenant's entity is refused. Test runs have none (nothing leaves).
   */
  readonly platformEvents?: PlatformEventQueue;
  /**
   * What a node keeps of an entity across restarts and chain reloads (ThingsBoard's RuleNodeState;
   * the device profile node's persistAlarmRulesState). Bound to the tenant: its own rows only, about
   * its own entities. Not a `requires` capability: a node without it keeps its state in memory
   * (test runs have none, so they never write it).
   */
  readonly ruleNodeStates?: RuleNodeStateService;
}

/** One node's state of one entity (storage's RuleNodeStateWrite). */
export interface RuleNodeStateWrite {
  tenantId: string;
  /** The node's id in the rule engine (NodeContext.nodeId). */
  ruleNodeId: string;
  entityId: string;
  state: JsonObject;
}

/** The part of storage's RuleNodeStateRepository nodes use. */
export interface RuleNodeStateService {
  get(tenantId: string, ruleNodeId: string, entityId: string): Promise<JsonObject | null>;
  /** Inserts or replaces, one statement per batch. */
  save(items: ReadonlyArray<RuleNodeStateWrite>): Promise<void>;
  delete(tenantId: string, ruleNodeId: string, entityId: string): Promise<boolean>;
}

export interface PlatformEventQueue {
  /**
   * `cause` is the message the node was processing: the new one carries its depth (metadata
   * `rivuletEventDepth`, one more than the cause's), and past MAX_PLATFORM_EVENT_DEPTH it is refused,
   * so a chain that answers its own notifications (save attributes with notification on, switching
   * on "Attributes Updated") stops instead of looping on the shared rule-engine topic for ever.
   */
  enqueue(msg: Msg, cause: Msg): Promise<void>;
}

/** Metadata key counting how many node-made platform events led to a message. */
export const PLATFORM_EVENT_DEPTH_KEY = 'rivuletEventDepth';
/** Node-made platform events in a row (each caused by the one before) before the next is refused. */
export const MAX_PLATFORM_EVENT_DEPTH = 8;

/**
 * Whether an entity belongs to a tenant: one of its devices, or the tenant itself. Answers
 * synchronously when it knows (a cache hit), so the hot path adds no await.
 */
export interface EntityOwnership {
  owns(tenantId: string, entityId: string): boolean | Promise<boolean>;
}

/** The tenant services are bound to, and how they tell its entities. */
export interface TenantScope {
  readonly tenantId: string;
  readonly ownership: EntityOwnership;
}

/** Services per tenant, each bound to it (createTenantServices): what the engine, nested chains and test runs take. */
export type TenantServices = (tenantId: string) => RuleNodeServices;

/** What the RPC nodes need: core's ToDeviceRpcRequest / RpcOutcome / ToServerRpcReply, through the transports. */
export interface RuleRpcService {
  /** Server-side RPC from a chain (RPC_CALL_FROM_SERVER_TO_DEVICE): resolves when delivered (one-way) or answered (two-way); never rejects. */
  sendToDevice(request: ToDeviceRpcRequest): Promise<RpcOutcome>;
  /** Client-side RPC: the chain's answer to a device's TO_SERVER_RPC_REQUEST (a tenant-bound service checks the device first). */
  replyToDevice(reply: ToServerRpcReply): void | Promise<void>;
}

/** Storage's history query, as the telemetry node uses it. */
export interface TsHistoryQuery {
  keys: readonly string[];
  startTs: number;
  endTs: number;
  limit?: number;
  orderBy?: 'ASC' | 'DESC';
  agg?: 'NONE' | 'AVG' | 'MIN' | 'MAX' | 'SUM' | 'COUNT';
  interval?: number;
}

export type RuleAlarmSeverity = 'CRITICAL' | 'MAJOR' | 'MINOR' | 'WARNING' | 'INDETERMINATE';

/** An alarm as nodes see it (the same shape as storage's Alarm). */
export interface RuleAlarm {
  id: string;
  tenantId: string;
  type: string;
  originatorType: string;
  originatorId: string;
  severity: RuleAlarmSeverity;
  acknowledged: boolean;
  cleared: boolean;
  startTs: number;
  endTs: number;
  ackTs: number;
  clearTs: number;
  details: JsonValue;
  createdTime: number;
}

/** What the create-alarm node asks for. */
export interface RuleAlarmInput {
  tenantId: string;
  type: string;
  originatorType: string;
  originatorId: string;
  severity: RuleAlarmSeverity;
  details?: JsonValue;
  ts: number;
}

/** The part of storage's AlarmRepository the alarm nodes use. */
export interface AlarmService {
  /** Creates, or updates the active alarm of the same originator and type (`created` tells which). */
  createOrUpdate(input: RuleAlarmInput): Promise<{ alarm: RuleAlarm; created: boolean }>;
  findActive(tenantId: string, originatorId: string, type: string): Promise<RuleAlarm | null>;
  clear(tenantId: string, id: string, ts: number, details?: JsonValue): Promise<RuleAlarm | null>;
}

export interface DeviceInfo {
  id: string;
  name: string;
  type: string;
  label: string | null;
  createdTime: number;
  /** The customer the device is assigned to (null: none; absent: not known to this lookup). */
  customerId?: string | null;
}

export interface DeviceLookup {
  get(tenantId: string, deviceId: string): Promise<DeviceInfo | null>;
}

/** A device profile as the device profile node sees it: `profileData` in ThingsBoard's JSON shape (alarms...). */
export interface RuleDeviceProfile {
  id: string;
  name: string;
  profileData: JsonObject;
}

export interface DeviceProfileLookup {
  /**
   * The profile of the tenant's device, or null when there is no such device. Cheap to call per
   * message (the server caches it and drops an entry when the profile or the device changes); an
   * unchanged profile may come back as the same object, and a cached one without a promise.
   */
  getForDevice(tenantId: string, deviceId: string): RuleDeviceProfile | null | Promise<RuleDeviceProfile | null>;
}

/** A compiled chain another chain can call (the rule chain node). */
export interface RunnableChain {
  readonly id: string;
  readonly name: string;
  /** The outcome carries the routes that left by output nodes (`outputs`). */
  run(msg: Msg): Promise<{ ok: boolean; error?: string; outputs?: Route[] }>;
}

export interface RuleChainResolver {
  /** The tenant's chain of that id, compiled once and reused; null when there is none. */
  get(tenantId: string, chainId: string): Promise<RunnableChain | null>;
}

/** The optional services of RuleNodeServices a node may need (`requires`). */
export type NodeCapability = 'alarms' | 'devices' | 'deviceProfiles' | 'ruleChains' | 'kafka' | 'rpc' | 'outbound';

export interface KafkaRecord {
  topic: string;
  key: string | null;
  value: string;
  /** Header values as bytes (the node encodes them in its configured charset) or UTF-8 text. */
  headers?: Record<string, string | Uint8Array>;
}

export interface KafkaProducer {
  send(record: KafkaRecord): Promise<{ partition?: number; offset?: string } | void>;
  /** Checks the producer's brokers against the outbound policy; the Kafka node calls it when its chain loads. */
  verify?(): Promise<void>;
  /** The node is done with it (its chain was replaced or stopped): the last release disconnects. */
  release?(): Promise<void>;
}

/** What a Kafka node asks for: ThingsBoard's TbKafkaNode settings that shape the producer. */
export interface KafkaProducerOptions {
  /** "host:port,host:port". */
  bootstrapServers: string;
  /** -1 (all in-sync replicas), 0 or 1. */
  acks: -1 | 0 | 1;
  /** Retries of a failed send inside the producer. */
  retries: number;
  /** Set by the tenant-bound services (bindServicesToTenant): producers are never shared across tenants. */
  tenantId?: string;
}

/**
 * Kafka producers for rule nodes: one per tenant and settings, shared by that tenant's nodes naming
 * the same brokers, their connections checked against the outbound policy, their number bounded.
 */
export interface KafkaService {
  /** Throws (when the node is created, so the chain's load fails) once the deployment's bound of producers is reached. */
  producer(options: KafkaProducerOptions): KafkaProducer;
}

/** A script function compiled once in the sandbox, called per message with JSON in and out. */
export interface CompiledScript {
  /**
   * Resolves with the function's result as JSON (undefined becomes null); rejects with a ScriptError.
   * `key` names the message (its id): strikes against the script count distinct keys, so the
   * retries of one message count once. No key: every call is a message of its own.
   */
  call(args: readonly JsonValue[], options?: { key?: string }): Promise<JsonValue>;
  destroy(): void;
}

/**
 * What an error thrown by a node may say about the node itself (the script sandbox's errors do):
 * `strike`, the message counted against the node (it hit its script's time limit or crashed the
 * sandbox); `disabled`, the node refused the message because it is disabled, until `disabledUntil`
 * (ms). The chain counts both in the node's stats and logs when a node becomes disabled.
 */
export interface NodeFault {
  readonly nodeFault?: 'strike' | 'disabled' | undefined;
  readonly disabledUntil?: number | undefined;
}

export interface ScriptRunner {
  /**
   * Compiles `function (params...) { body }`; throws at once on a syntax error, so a bad script
   * fails the chain's load (and its save), not each message.
   */
  compile(options: {
    body: string;
    params: readonly string[];
    name: string;
    /** Declarations run once before the function is defined (helper functions). */
    prelude?: string;
    timeoutMs?: number;
    memoryLimitBytes?: number;
    /** Fields for the sandbox's log lines about this script (the tenant's id). */
    labels?: Readonly<Record<string, string>>;
  }): CompiledScript;
}

/** Per-call context: identifies the node for logs and errors. */
export interface NodeContext {
  readonly chainId: string;
  readonly nodeId: string;
  readonly nodeName: string;
  readonly logger: Logger;
  /** The tenant whose chain this is, when the chain was compiled for one (the engine's are). */
  readonly tenantId?: string | undefined;
  /**
   * Sends messages on from this node after process() has returned (deduplication and window
   * flushes, delays, generators): they follow this node's links as if process() had returned these
   * routes. The message that caused them was already acknowledged, so they are not redelivered after
   * a crash (ThingsBoard's pending messages behave the same). Resolves with their outcome; a failure
   * is also logged by the chain.
   */
  emit(routes: readonly Route[]): Promise<{ ok: boolean; error?: string }>;
}

export interface RuleNode {
  /**
   * Resolves with the routes the message (or derived messages) leaves by, or throws: a throw is
   * routed as Failure with the error in the metadata. It can neither forget to finish nor finish
   * twice (the Node-RED lesson).
   */
  process(msg: Msg, ctx: NodeContext): Promise<Route[]> | Route[];
  /**
   * Called once when the whole chain is built (not for validation or test runs): nodes that act on
   * their own (generators) start their timers here, with their context for ctx.emit.
   */
  start?(ctx: NodeContext): void;
  /** Releases timers and handles when the chain is replaced or stopped. */
  destroy?(): void | Promise<void>;
}

export interface RuleNodeDefinition<S extends z.ZodType = z.ZodType> {
  /** Our type name, e.g. "rivulet.filter.msgTypeSwitch". */
  readonly type: string;
  /** ThingsBoard class names this node stands for, so ThingsBoard exports import unchanged. */
  readonly aliases?: readonly string[];
  readonly category: NodeCategory;
  readonly name: string;
  readonly description: string;
  /** One schema drives validation, defaults and (later) the editor's form. */
  readonly configSchema: S;
  /** Version of the configuration shape; `upgrade` brings older saved configurations forward. */
  readonly configVersion: number;
  upgrade?(config: unknown, fromVersion: number): unknown;
  /** Relations the node may emit ("Success", "Failure", "True", ...). Dynamic ones: relationsDynamic. */
  readonly relations: readonly string[];
  /** True when relation names come from the data (e.g. the message type switch). */
  readonly relationsDynamic?: boolean;
  /**
   * Entities the configuration names (a generator's originator, ...): a chain is refused on save and
   * on load unless each belongs to the chain's tenant (checkChainForTenant).
   */
  entityRefs?(config: z.output<S>): ReadonlyArray<{ field: string; entityType: string; id: string }>;
  /**
   * Checks the configuration against the tenant's limits (a generator's period against
   * minGeneratorPeriodMs): the problem with the field it concerns, or undefined. A chain is refused
   * on save and on load when a node answers one.
   */
  checkLimits?(config: z.output<S>, limits: TenantLimits): { field: string; message: string } | undefined;
  /**
   * Optional services the node cannot work without: a chain with this node is refused on save and
   * on load when the deployment lacks one (checkChainCapabilities), instead of failing every message.
   */
  readonly requires?: readonly NodeCapability[];
  /** Called once per node when a chain is loaded: compile scripts here, not per message. */
  create(config: z.output<S>, services: RuleNodeServices): RuleNode;
}

/** Small helper so each node file reads as one declaration with its config type inferred. */
export function defineNode<S extends z.ZodType>(def: RuleNodeDefinition<S>): RuleNodeDefinition<S> {
  return def;
}

export type { KvValue };
