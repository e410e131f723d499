import { silentLogger, type AttributeKv, type AttributeWrite, type Msg, type TsKv, type TsPoint } from '@rivulet/core';
import type { NodeContext, RuleNodeServices } from './types';

/**
 * Services for node unit tests (the STYLE's "fake context"): they record what a node wrote and
 * answer reads from what was recorded. `failNext` makes the next write reject, for failure paths.
 */
export interface RecordingServices extends RuleNodeServices {
  readonly points: TsPoint[];
  readonly attributeWrites: AttributeWrite[];
  failNext(kind: 'timeseries' | 'attributes', error: Error): void;
}

export function createRecordingServices(options: { now?: number } = {}): RecordingServices {
  const points: TsPoint[] = [];
  const attributeWrites: AttributeWrite[] = [];
  const failures: Partial<Record<'timeseries' | 'attributes', Error>> = {};
  const takeFailure = (kind: 'timeseries' | 'attributes') => {
    const e = failures[kind];
    delete failures[kind];
    if (e) throw e;
  };
  return {
    logger: silentLogger,
    points,
    attributeWrites,
    now: () => options.now ?? 1_700_000_000_000,
    failNext(kind, error) {
      failures[kind] = error;
    },
    timeseries: {
      async save(p) {
        takeFailure('timeseries');
        points.push(...p);
      },
      async findLatest(entityId, keys) {
        const latest = new Map<string, TsKv>();
        for (const p of points) {
          if (p.entityId !== entityId || (keys && !keys.includes(p.key))) continue;
          const cur = latest.get(p.key);
          if (!cur || cur.ts <= p.ts) latest.set(p.key, { key: p.key, ts: p.ts, value: p.value });
        }
        return [...latest.values()];
      },
    },
    attributes: {
      async save(items) {
        takeFailure('attributes');
        attributeWrites.push(...items);
      },
      async find(entityId, scope, keys) {
        const out = new Map<string, AttributeKv>();
        for (const a of attributeWrites) {
          if (a.entityId === entityId && a.scope === scope && (!keys || keys.includes(a.key))) {
            out.set(a.key, { key: a.key, value: a.value, lastUpdateTs: a.lastUpdateTs });
          }
        }
        return [...out.values()];
      },
      async delete(entityId, scope, keys) {
        let n = 0;
        for (let i = attributeWrites.length - 1; i >= 0; i--) {
          const a = attributeWrites[i]!;
          if (a.entityId === entityId && a.scope === scope && keys.includes(a.key)) {
            attributeWrites.splice(i, 1);
            n++;
          }
        }
        return n;
      },
    },
  };
}

export function testNodeContext(name = 'test node'): NodeContext {
  return { chainId: 'test-chain', nodeId: 'test-chain:0', nodeName: name, logger: silentLogger };
}

export type { Msg };
