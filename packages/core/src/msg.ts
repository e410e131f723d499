import { newId, type EntityId } from './ids';
import { doubleKeysOf } from './kv';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Message types of ThingsBoard's rule engine (see shared/thingsboard-api.md). */
export const MsgType = {
  POST_TELEMETRY_REQUEST: 'POST_TELEMETRY_REQUEST',
  POST_ATTRIBUTES_REQUEST: 'POST_ATTRIBUTES_REQUEST',
  TO_SERVER_RPC_REQUEST: 'TO_SERVER_RPC_REQUEST',
  RPC_CALL_FROM_SERVER_TO_DEVICE: 'RPC_CALL_FROM_SERVER_TO_DEVICE',
  CONNECT_EVENT: 'CONNECT_EVENT',
  DISCONNECT_EVENT: 'DISCONNECT_EVENT',
  ACTIVITY_EVENT: 'ACTIVITY_EVENT',
  INACTIVITY_EVENT: 'INACTIVITY_EVENT',
  ENTITY_CREATED: 'ENTITY_CREATED',
  ENTITY_UPDATED: 'ENTITY_UPDATED',
  ENTITY_DELETED: 'ENTITY_DELETED',
  ENTITY_ASSIGNED: 'ENTITY_ASSIGNED',
  ENTITY_UNASSIGNED: 'ENTITY_UNASSIGNED',
  ATTRIBUTES_UPDATED: 'ATTRIBUTES_UPDATED',
  ATTRIBUTES_DELETED: 'ATTRIBUTES_DELETED',
  TIMESERIES_UPDATED: 'TIMESERIES_UPDATED',
  TIMESERIES_DELETED: 'TIMESERIES_DELETED',
  ALARM: 'ALARM',
  /** ThingsBoard's (TbMsgType.ALARM_ACK): a user acknowledged an alarm; the originator is the alarm's originator. */
  ALARM_ACK: 'ALARM_ACK',
  /** ThingsBoard's (TbMsgType.ALARM_CLEAR): a user cleared an alarm. */
  ALARM_CLEAR: 'ALARM_CLEAR',
  ALARM_DELETE: 'ALARM_DELETE',
  /** ThingsBoard's (TbMsgType.PROVISION_SUCCESS): a device provisioned itself; data: its provisioning request without secrets. */
  PROVISION_SUCCESS: 'PROVISION_SUCCESS',
  /** ThingsBoard's (TbMsgType.PROVISION_FAILURE): a provisioning request for an existing device was refused. */
  PROVISION_FAILURE: 'PROVISION_FAILURE',
  /**
   * ThingsBoard's RPC lifecycle (TbMsgType.RPC_*), from the transport that handles the call:
   * written to the device's session, answered by it (two-way) or taken (one-way), given up, timed out.
   */
  RPC_SENT: 'RPC_SENT',
  RPC_DELIVERED: 'RPC_DELIVERED',
  RPC_SUCCESSFUL: 'RPC_SUCCESSFUL',
  RPC_TIMEOUT: 'RPC_TIMEOUT',
  RPC_FAILED: 'RPC_FAILED',
  /** Rivulet's older name of ALARM_CLEAR, still routed as "Alarm Cleared" for chains saved with it. */
  ALARM_CLEARED: 'ALARM_CLEARED',
} as const;
export type KnownMsgType = (typeof MsgType)[keyof typeof MsgType];

/**
 * The rule-engine message. Immutable: nodes derive new messages with `withMsg`, never mutate.
 * It is plain JSON so a queue can serialise it as it is (Kafka) or pass it by reference (memory).
 */
export interface Msg {
  readonly id: string;
  /** Creation time, ms since epoch. */
  readonly ts: number;
  /** One of MsgType, or a custom type set by a transform node. */
  readonly type: string;
  readonly originator: EntityId;
  readonly tenantId: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly data: JsonValue;
  /**
   * Keys of `data` (of each group's `values` in the {ts, values} and array forms) whose number is a
   * DOUBLE although integral: the device wrote 1.0, which JSON and JavaScript read as 1 (a LONG).
   * Left out when there is none (the common case). ThingsBoard keeps the payload's text, so 1.0 stays
   * a double there; a node that replaces `data` drops this, as a script transform in ThingsBoard
   * re-serializes 1.0 as 1. See msgDoubles and docs/api.md.
   */
  readonly doubles?: readonly string[];
}

export interface NewMsg {
  type: string;
  originator: EntityId;
  tenantId: string;
  metadata?: Record<string, string>;
  data: JsonValue;
  ts?: number;
  id?: string;
  /** Msg.doubles; left out: the keys `data` marks itself (DOUBLE_KEYS, set by the payload parsers). */
  doubles?: readonly string[];
}

export function createMsg(m: NewMsg): Msg {
  const doubles = m.doubles ?? doubleKeysOf(m.data);
  const msg = {
    id: m.id ?? newId(),
    ts: m.ts ?? Date.now(),
    type: m.type,
    originator: Object.freeze({ ...m.originator }),
    tenantId: m.tenantId,
    metadata: Object.freeze({ ...(m.metadata ?? {}) }),
    data: m.data,
  };
  return Object.freeze(doubles !== undefined && doubles.length > 0 ? { ...msg, doubles: Object.freeze([...doubles]) } : msg);
}

/**
 * A copy of `msg` with some fields replaced; the id stays, as in ThingsBoard's TbMsg.transform.
 * New `data` keeps the doubles marks of the keys whose number it kept (an enrichment node adding
 * keys keeps them, as ThingsBoard's Jackson round trip keeps 1.0), unless `changes` gives its own.
 */
export function withMsg(msg: Msg, changes: Partial<Omit<Msg, 'id'>>): Msg {
  const out: { -readonly [K in keyof Msg]?: Msg[K] } = {
    ...msg,
    ...changes,
    metadata: Object.freeze({ ...(changes.metadata ?? msg.metadata) }),
  };
  if (msg.doubles === undefined && changes.doubles === undefined) return Object.freeze(out as Msg); // the common case
  const doubles = changes.doubles !== undefined ? changes.doubles : changes.data !== undefined ? carriedDoubles(msg, changes.data) : msg.doubles;
  if (doubles === undefined || doubles.length === 0) delete out.doubles; // rare: a message that had marks
  else out.doubles = doubles === msg.doubles ? doubles : Object.freeze([...doubles]);
  return Object.freeze(out as Msg);
}

/** The doubles marks of `msg` that still hold for `data`: the keys whose number it kept. */
export function carriedDoubles(msg: Msg, data: JsonValue): readonly string[] | undefined {
  const marks = msg.doubles;
  if (marks === undefined || data === msg.data) return marks;
  const before = msg.data;
  if (!isPlainObject(data) || !isPlainObject(before)) return undefined;
  const kept = marks.filter((k) => Object.hasOwn(data, k) && typeof data[k] === 'number' && data[k] === before[k]);
  return kept.length > 0 ? kept : undefined;
}

function isPlainObject(v: JsonValue): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The keys Msg.doubles names, checked: a message read back from a wire is only known to be a Msg
 * by its required fields, so anything but an array of strings counts as none.
 */
export function msgDoubles(msg: Msg): ReadonlySet<string> | undefined {
  const d: unknown = msg.doubles;
  if (d === undefined || !Array.isArray(d) || d.length === 0) return undefined;
  const keys = new Set<string>();
  for (const k of d) if (typeof k === 'string') keys.add(k);
  return keys.size > 0 ? keys : undefined;
}

/** Checks a decoded value has the shape of a Msg (for messages that come back from a wire). */
export function isMsg(v: unknown): v is Msg {
  if (typeof v !== 'object' || v === null) return false;
  const m = v as Record<string, unknown>;
  const o = m.originator as Record<string, unknown> | undefined;
  return (
    typeof m.id === 'string' &&
    typeof m.ts === 'number' &&
    typeof m.type === 'string' &&
    typeof m.tenantId === 'string' &&
    typeof o === 'object' && o !== null &&
    typeof o.id === 'string' &&
    typeof o.entityType === 'string' &&
    typeof m.metadata === 'object' && m.metadata !== null
  );
}
