import { type Broadcast, DeviceChannel, LiveChannel } from '@rivulet/broadcast';
import {
  AttributeScope,
  createBatcher,
  type AttributesEvent,
  type AttributeWrite,
  type TelemetryEvent,
  type TsKv,
  type TsPoint,
} from '@rivulet/core';
import type { Storage } from '@rivulet/storage';

/**
 * Storage as the rest of the server sees it: time-series and attribute writes from many concurrent
 * messages are gathered into one statement (group commit), and every write, once stored, is
 * published on the broadcast so WebSocket subscribers see it. Same interface, wrapped (Magistrala's
 * middleware pattern) rather than calls sprinkled through nodes and the API.
 */
export function createLiveStorage(
  storage: Storage,
  broadcast: Broadcast,
  options: {
    writeConcurrency?: number;
    /** Called once per batch written (metrics): its kind, rows, seconds taken and whether it was stored. */
    onBatch?: (kind: 'timeseries' | 'attributes', size: number, seconds: number, ok: boolean) => void;
  } = {},
): Storage {
  const concurrency = options.writeConcurrency ?? 2;
  const onBatch = options.onBatch;
  /** Runs one batch's write, timing it for onBatch when set. */
  async function timed(kind: 'timeseries' | 'attributes', size: number, write: () => Promise<void>): Promise<void> {
    if (!onBatch) return write();
    const start = process.hrtime.bigint();
    let ok = false;
    try {
      await write();
      ok = true;
    } finally {
      onBatch(kind, size, Number(process.hrtime.bigint() - start) / 1e9, ok);
    }
  }
  const tsBatcher = createBatcher<TsPoint>({
    maxBatch: 5000,
    concurrency,
    async write(points) {
      await timed('timeseries', points.length, () => storage.timeseries.save(points));
      publishTelemetry(broadcast, points);
    },
  });
  const attrBatcher = createBatcher<AttributeWrite>({
    maxBatch: 2000,
    concurrency,
    async write(items) {
      await timed('attributes', items.length, () => storage.attributes.save(items));
      publishAttributes(broadcast, items);
    },
  });

  const timeseries: Storage['timeseries'] = {
    ...bindAll(storage.timeseries),
    save: (points) => tsBatcher.add(points),
    async delete(entityId, keys, startTs, endTs, options) {
      return storage.timeseries.delete(entityId, keys, startTs, endTs, options);
    },
  };
  const attributes: Storage['attributes'] = {
    ...bindAll(storage.attributes),
    save: (items) => attrBatcher.add(items),
    async delete(entityId, scope, keys) {
      const n = await storage.attributes.delete(entityId, scope, keys);
      publishAttributesEvent(broadcast, { entityId, scope, values: [], deleted: [...keys] });
      return n;
    },
  };
  // Everything else passes through unchanged.
  return {
    ...storage,
    timeseries,
    attributes,
    async close() {
      await Promise.all([tsBatcher.flush(), attrBatcher.flush()]);
      await storage.close();
    },
  };
}

/** Methods of a repository bound to it, so spreading keeps `this` working. */
function bindAll<T extends object>(repo: T): T {
  const out: Record<string, unknown> = {};
  let proto: object | null = repo;
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const v = (repo as Record<string, unknown>)[key];
      if (key !== 'constructor' && typeof v === 'function' && !(key in out)) out[key] = (v as (...a: unknown[]) => unknown).bind(repo);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return out as T;
}

function publishTelemetry(broadcast: Broadcast, points: ReadonlyArray<TsPoint>): void {
  const byEntity = new Map<string, TsKv[]>();
  for (const p of points) {
    const list = byEntity.get(p.entityId);
    const kv: TsKv = p.double === true ? { key: p.key, ts: p.ts, value: p.value, double: true } : { key: p.key, ts: p.ts, value: p.value };
    if (list) list.push(kv);
    else byEntity.set(p.entityId, [kv]);
  }
  for (const [entityId, list] of byEntity) {
    const ev: TelemetryEvent = { entityId, points: list };
    broadcast.publish(LiveChannel.TELEMETRY, ev);
  }
}

function publishAttributes(broadcast: Broadcast, items: ReadonlyArray<AttributeWrite>): void {
  const groups = new Map<string, AttributeWrite[]>();
  for (const a of items) {
    const k = `${a.entityId}|${a.scope}`;
    const list = groups.get(k);
    if (list) list.push(a);
    else groups.set(k, [a]);
  }
  for (const list of groups.values()) {
    const first = list[0]!;
    const ev: AttributesEvent = {
      entityId: first.entityId,
      scope: first.scope,
      values: list.map((a) => (a.double === true ? { key: a.key, value: a.value, lastUpdateTs: a.lastUpdateTs, double: true } : { key: a.key, value: a.value, lastUpdateTs: a.lastUpdateTs })),
    };
    publishAttributesEvent(broadcast, ev);
  }
}

/**
 * Every process's subscribers (WebSocket, caches) get the change; shared attributes also go to the
 * processes holding the device's session, whose transports push them (none holds one: not sent).
 */
function publishAttributesEvent(broadcast: Broadcast, ev: AttributesEvent): void {
  broadcast.publish(LiveChannel.ATTRIBUTES, ev);
  if (ev.scope === AttributeScope.SHARED_SCOPE) broadcast.sendToDevice(DeviceChannel.SHARED_ATTRIBUTES, ev.entityId, ev);
}
