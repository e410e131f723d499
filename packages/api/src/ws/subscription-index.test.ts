import { describe, expect, it } from 'vitest';
import type { WsUpdate } from '@rivulet/api-types';
import { SubscriptionIndex, type LiveSubscription } from './subscription-index';

function sub(partial: Partial<LiveSubscription> & Pick<LiveSubscription, 'kind' | 'entityId'>, sent: WsUpdate[]): LiveSubscription {
  return { cmdId: 1, keys: null, scope: null, latest: new Map(), pending: null, send: (f) => sent.push(f), ...partial };
}

describe('SubscriptionIndex', () => {
  it('holds events back until the snapshot is out, then delivers only what is newer than it', () => {
    const index = new SubscriptionIndex();
    const sent: WsUpdate[] = [];
    const s = sub({ kind: 'TIMESERIES', entityId: 'e1', pending: [] }, sent);
    index.add(s);
    index.onTelemetry({ entityId: 'e1', points: [{ key: 't', ts: 5, value: 1 }] });
    index.onTelemetry({ entityId: 'e1', points: [{ key: 't', ts: 20, value: 2 }] });
    expect(sent).toEqual([]);
    // The snapshot read saw ts 10.
    s.latest.set('t', 10);
    index.release(s);
    expect(sent).toEqual([{ subscriptionId: 1, errorCode: 0, errorMsg: null, data: { t: [[20, '2']] }, latestValues: { t: 20 } }]);
  });

  it('with startTs (a live chart) delivers every point of a batch and late older points, not only the newest', () => {
    const index = new SubscriptionIndex();
    const latestOnly: WsUpdate[] = [];
    const every: WsUpdate[] = [];
    index.add(sub({ kind: 'TIMESERIES', entityId: 'e1' }, latestOnly));
    index.add(sub({ kind: 'TIMESERIES', entityId: 'e1', cmdId: 2, everyPointFrom: 100, keys: new Set(['t']) }, every));
    // A batch of three (out of order), a key not subscribed, a point before startTs.
    index.onTelemetry({ entityId: 'e1', points: [{ key: 't', ts: 300, value: 3 }, { key: 't', ts: 200, value: 2 }, { key: 'u', ts: 200, value: 9 }, { key: 't', ts: 50, value: 0 }, { key: 't', ts: 250, value: 2.5 }] });
    // A late point, older than the newest already sent.
    index.onTelemetry({ entityId: 'e1', points: [{ key: 't', ts: 150, value: 1.5 }] });
    expect(every.map((m) => m.data)).toEqual([{ t: [[200, '2'], [250, '2.5'], [300, '3']] }, { t: [[150, '1.5']] }]);
    expect(every[1]?.latestValues).toEqual({ t: 300 });
    // Without startTs: the newest of the batch only, and the late point not at all.
    expect(latestOnly.map((m) => m.data)).toEqual([{ t: [[300, '3']], u: [[200, '9']] }]);
  });

  it('routes by entity and kind, filters keys and scopes, and forgets removed subscriptions', () => {
    const index = new SubscriptionIndex();
    const a: WsUpdate[] = [];
    const b: WsUpdate[] = [];
    const ts = sub({ kind: 'TIMESERIES', entityId: 'e1', keys: new Set(['x']) }, a);
    const attr = sub({ kind: 'ATTRIBUTES', entityId: 'e1', scope: 'SHARED_SCOPE', cmdId: 2 }, b);
    index.add(ts);
    index.add(attr);
    expect(index.size()).toBe(2);
    index.onTelemetry({ entityId: 'e2', points: [{ key: 'x', ts: 1, value: 1 }] });
    index.onTelemetry({ entityId: 'e1', points: [{ key: 'y', ts: 1, value: 1 }, { key: 'x', ts: 1, value: 'a' }, { key: 'x', ts: 2, value: 'b' }] });
    expect(a.map((m) => m.data)).toEqual([{ x: [[2, 'b']] }]);
    index.onAttributes({ entityId: 'e1', scope: 'SERVER_SCOPE', values: [{ key: 'k', value: 1, lastUpdateTs: 1 }] });
    index.onAttributes({ entityId: 'e1', scope: 'SHARED_SCOPE', values: [{ key: '__proto__', value: { a: 1 }, lastUpdateTs: 3 }] });
    expect(b).toHaveLength(1);
    expect(Object.keys(b[0]?.data ?? {})).toEqual(['__proto__']);
    expect(JSON.stringify(b[0]?.data)).toBe('{"__proto__":[[3,"{\\"a\\":1}"]]}');
    index.remove(ts);
    index.remove(attr);
    expect(index.size()).toBe(0);
    index.onTelemetry({ entityId: 'e1', points: [{ key: 'x', ts: 9, value: 1 }] });
    expect(a).toHaveLength(1);
  });
});
