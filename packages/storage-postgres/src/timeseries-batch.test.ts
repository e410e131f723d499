import { describe, expect, it } from 'vitest';
import { newId, silentLogger } from '@rivulet/core';
import { createTestDatabase } from '@rivulet/testing';
import { kvColumnLiterals, quoteArrayElement } from './kv-columns';
import { createPostgresStorage } from './index';

describe('array literals of the time-series hot path', () => {
  it('quotes strings, escapes quotes and backslashes, writes NULL for the other columns', () => {
    expect(quoteArrayElement('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(kvColumnLiterals([true, 7, 1.5, 'x', { a: [1] }])).toEqual([
      '{t,NULL,NULL,NULL,NULL}',
      '{NULL,7,NULL,NULL,NULL}',
      '{NULL,NULL,1.5,NULL,NULL}',
      '{NULL,NULL,NULL,"x",NULL}',
      '{NULL,NULL,NULL,NULL,"{\\"a\\":[1]}"}',
    ]);
  });

  it('leaves a column with no value of its type out (null: unnest pads it)', () => {
    expect(kvColumnLiterals([1.5, 2, 2.5])).toEqual([null, '{NULL,2,NULL}', '{1.5,NULL,2.5}', null, null]);
  });

  it('puts a number marked as a double in the double column, whatever its value', () => {
    expect(kvColumnLiterals([1, 1, 2 ** 60, 'x'], [true, false, false, true])).toEqual([null, '{NULL,1,1152921504606846976,NULL}', '{1,NULL,NULL,NULL}', '{NULL,NULL,NULL,"x"}', null]);
  });

  it('round-trips keys and strings PostgreSQL would otherwise read as syntax', async () => {
    const db = await createTestDatabase('kvlit');
    const storage = await createPostgresStorage({ url: db.url, logger: silentLogger });
    try {
      const entityId = newId();
      const tricky = ['NULL', '', 'a,b', '{x}', 'q"uote', 'back\\slash', ' spaced ', 'ünï €', 'tab\there'];
      await storage.timeseries.save(tricky.map((s, i) => ({ entityId, key: s === '' ? 'empty' : s, ts: i + 1, value: s })));
      await storage.timeseries.save([
        { entityId, key: 'big', ts: 1, value: Number.MAX_SAFE_INTEGER },
        { entityId, key: 'tiny', ts: 1, value: 5e-324 },
        { entityId, key: 'json', ts: 1, value: { 'k"\\': ['v\\"', null] } },
        { entityId, key: 'f', ts: 1, value: false },
      ]);
      const latest = new Map((await storage.timeseries.findLatest(entityId)).map((kv) => [kv.key, kv.value]));
      for (const s of tricky) expect(latest.get(s === '' ? 'empty' : s)).toBe(s);
      expect(latest.get('big')).toBe(Number.MAX_SAFE_INTEGER);
      expect(latest.get('tiny')).toBe(5e-324);
      expect(latest.get('json')).toEqual({ 'k"\\': ['v\\"', null] });
      expect(latest.get('f')).toBe(false);
    } finally {
      await storage.close();
      await db.drop();
    }
  });

  it('one save with points out of order and repeated: the later of equal points wins, rows and latest alike', async () => {
    const db = await createTestDatabase('kvord');
    const storage = await createPostgresStorage({ url: db.url, logger: silentLogger });
    try {
      const [a, b] = [newId(), newId()].sort() as [string, string];
      await storage.timeseries.save([
        { entityId: b, key: 'k', ts: 3, value: 'b3' },
        { entityId: a, key: 'y', ts: 5, value: 1 },
        { entityId: a, key: 'x', ts: 3, value: 'first' },
        { entityId: a, key: 'x', ts: 1, value: 'one' },
        { entityId: a, key: 'x', ts: 3, value: 'second' },
        { entityId: a, key: 'x', ts: 2.7, value: 'two' },
        { entityId: a, key: 'x', ts: 3, value: 'third' },
      ]);
      const h = await storage.timeseries.findHistory(a, { keys: ['x'], startTs: 0, endTs: 10, orderBy: 'ASC' });
      expect(h.x?.map((p) => [p.ts, p.value])).toEqual([[1, 'one'], [2, 'two'], [3, 'third']]);
      expect(await storage.timeseries.findLatest(a)).toEqual([{ key: 'x', ts: 3, value: 'third' }, { key: 'y', ts: 5, value: 1 }]);
      expect(await storage.timeseries.count()).toBe(5);
    } finally {
      await storage.close();
      await db.drop();
    }
  });
});
