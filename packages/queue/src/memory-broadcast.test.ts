import { describe, expect, it } from 'vitest';
import type { Logger } from '@rivulet/core';
import { createMemoryBroadcast } from './memory-broadcast';

describe('memory broadcast', () => {
  it('delivers synchronously to every subscriber of the channel, and only that channel', () => {
    const b = createMemoryBroadcast<number>();
    const a: number[] = [];
    const c: number[] = [];
    const other: number[] = [];
    b.subscribe('x', (e) => a.push(e));
    b.subscribe('x', (e) => c.push(e));
    b.subscribe('y', (e) => other.push(e));
    b.publish('x', 1);
    b.publish('x', 2);
    expect(a).toEqual([1, 2]);
    expect(c).toEqual([1, 2]);
    expect(other).toEqual([]);
  });

  it('publishing to a channel without subscribers does nothing', () => {
    expect(() => createMemoryBroadcast<string>().publish('nobody', 'x')).not.toThrow();
  });

  it('a throwing subscriber does not stop the others, and is logged', () => {
    const warnings: Array<Record<string, unknown>> = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn(fields) {
        warnings.push(fields);
      },
      error() {},
      child() {
        return logger;
      },
    };
    const b = createMemoryBroadcast<string>({ logger });
    const got: string[] = [];
    b.subscribe('x', () => {
      throw new Error('bad subscriber');
    });
    b.subscribe('x', (e) => got.push(e));
    expect(() => b.publish('x', 'hello')).not.toThrow();
    expect(got).toEqual(['hello']);
    expect(warnings).toEqual([{ channel: 'x', err: 'bad subscriber' }]);
  });

  it('unsubscribe removes exactly that subscription, and is idempotent', () => {
    const b = createMemoryBroadcast<number>();
    const got: number[] = [];
    const handler = (e: number): void => {
      got.push(e);
    };
    const first = b.subscribe('x', handler);
    b.subscribe('x', handler);
    b.publish('x', 1);
    first();
    first();
    b.publish('x', 2);
    expect(got).toEqual([1, 1, 2]);
  });

  it('a subscriber may unsubscribe itself while being called', () => {
    const b = createMemoryBroadcast<number>();
    const got: string[] = [];
    const off = b.subscribe('x', (e) => {
      got.push(`once:${e}`);
      off();
    });
    b.subscribe('x', (e) => got.push(`always:${e}`));
    b.publish('x', 1);
    b.publish('x', 2);
    expect(got).toEqual(['once:1', 'always:1', 'always:2']);
  });
});
