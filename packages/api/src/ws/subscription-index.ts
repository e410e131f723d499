import type { WsUpdate } from '@rivulet/api-types';
import { kvToString, type AttributeScope, type AttributesEvent, type TelemetryEvent, type TsKv } from '@rivulet/core';
import { setOwn } from '../own';

export type SubscriptionKind = 'TIMESERIES' | 'ATTRIBUTES';

type WsData = NonNullable<WsUpdate['data']>;

/** One live subscription of one WebSocket session. */
export interface LiveSubscription {
  readonly cmdId: number;
  readonly kind: SubscriptionKind;
  readonly entityId: string;
  /** null: every key. */
  readonly keys: ReadonlySet<string> | null;
  /** ATTRIBUTES only; null: every scope. */
  readonly scope: AttributeScope | null;
  readonly send: (frame: WsUpdate) => void;
  /**
   * TIMESERIES: key → ts of the newest value the client has, so a late, older point (a device
   * back-filling) does not replace a newer latest value on the client.
   */
  readonly latest: Map<string, number>;
  /**
   * TIMESERIES with `startTs` (a live chart): every point at or after it goes out, not only newer
   * latest values. Undefined: latest values only.
   */
  readonly everyPointFrom?: number | undefined;
  /** Events that arrived while the snapshot was being read; null once the snapshot is out. */
  pending: Array<{ telemetry: TelemetryEvent } | { attributes: AttributesEvent }> | null;
}

/**
 * Every subscription of every session, indexed by entity id so an event costs one map lookup plus
 * the subscriptions of its own entity, however many sessions are open.
 */
export class SubscriptionIndex {
  private readonly byEntity = new Map<string, Set<LiveSubscription>>();

  add(sub: LiveSubscription): void {
    let set = this.byEntity.get(sub.entityId);
    if (!set) this.byEntity.set(sub.entityId, (set = new Set()));
    set.add(sub);
  }

  remove(sub: LiveSubscription): void {
    const set = this.byEntity.get(sub.entityId);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) this.byEntity.delete(sub.entityId);
  }

  /** Number of subscriptions (for tests and metrics). */
  size(): number {
    let n = 0;
    for (const set of this.byEntity.values()) n += set.size;
    return n;
  }

  /** The snapshot has been sent: deliver what arrived meanwhile, then go live. */
  release(sub: LiveSubscription): void {
    const pending = sub.pending ?? [];
    sub.pending = null;
    for (const p of pending) {
      if ('telemetry' in p) deliverTelemetry(sub, p.telemetry);
      else deliverAttributes(sub, p.attributes);
    }
  }

  onTelemetry(event: TelemetryEvent): void {
    const set = this.byEntity.get(event.entityId);
    if (!set) return;
    for (const sub of set) {
      if (sub.kind !== 'TIMESERIES') continue;
      if (sub.pending) sub.pending.push({ telemetry: event });
      else deliverTelemetry(sub, event);
    }
  }

  onAttributes(event: AttributesEvent): void {
    const set = this.byEntity.get(event.entityId);
    if (!set) return;
    for (const sub of set) {
      if (sub.kind !== 'ATTRIBUTES') continue;
      if (sub.pending) sub.pending.push({ attributes: event });
      else deliverAttributes(sub, event);
    }
  }
}

/** Latest-value semantics: per key only the newest point of the event, and only if not older than the client's. */
function deliverTelemetry(sub: LiveSubscription, event: TelemetryEvent): void {
  if (sub.everyPointFrom !== undefined) return deliverEveryPoint(sub, event, sub.everyPointFrom);
  const newest = new Map<string, TsKv>();
  for (const p of event.points) {
    if (sub.keys && !sub.keys.has(p.key)) continue;
    const cur = newest.get(p.key);
    if (!cur || p.ts >= cur.ts) newest.set(p.key, p);
  }
  if (newest.size === 0) return;
  const data: WsData = {};
  const latestValues: Record<string, number> = {};
  let any = false;
  for (const [key, p] of newest) {
    const known = sub.latest.get(key);
    if (known !== undefined && p.ts < known) continue;
    sub.latest.set(key, p.ts);
    setOwn(data, key, [[p.ts, kvToString(p.value, p.double)]]);
    setOwn(latestValues, key, p.ts);
    any = true;
  }
  if (any) sub.send({ subscriptionId: sub.cmdId, errorCode: 0, errorMsg: null, data, latestValues });
}

/** Every point of the event at or after `from`, oldest first per key; `latest` still tracks the newest. */
function deliverEveryPoint(sub: LiveSubscription, event: TelemetryEvent, from: number): void {
  const data: WsData = {};
  const latestValues: Record<string, number> = {};
  let any = false;
  for (const p of [...event.points].sort((a, b) => a.ts - b.ts)) {
    if (p.ts < from || (sub.keys && !sub.keys.has(p.key))) continue;
    const list = Object.hasOwn(data, p.key) ? data[p.key]! : [];
    if (list.length === 0) setOwn(data, p.key, list);
    list.push([p.ts, kvToString(p.value, p.double)]);
    if ((sub.latest.get(p.key) ?? -Infinity) <= p.ts) sub.latest.set(p.key, p.ts);
    setOwn(latestValues, p.key, sub.latest.get(p.key)!);
    any = true;
  }
  if (any) sub.send({ subscriptionId: sub.cmdId, errorCode: 0, errorMsg: null, data, latestValues });
}

/** A deleted attribute is sent as `[[ts, null]]` (ts: when the deletion was seen). */
function deliverAttributes(sub: LiveSubscription, event: AttributesEvent): void {
  if (sub.scope !== null && sub.scope !== event.scope) return;
  const data: WsData = {};
  const latestValues: Record<string, number> = {};
  let any = false;
  for (const a of event.values) {
    if (sub.keys && !sub.keys.has(a.key)) continue;
    setOwn(data, a.key, [[a.lastUpdateTs, kvToString(a.value, a.double)]]);
    setOwn(latestValues, a.key, a.lastUpdateTs);
    any = true;
  }
  if (event.deleted && event.deleted.length > 0) {
    const now = Date.now();
    for (const key of event.deleted) {
      if (sub.keys && !sub.keys.has(key)) continue;
      setOwn(data, key, [[now, null]]);
      setOwn(latestValues, key, now);
      any = true;
    }
  }
  if (any) sub.send({ subscriptionId: sub.cmdId, errorCode: 0, errorMsg: null, data, latestValues });
}
