import { describe, expect, it } from 'vitest';
import type { Logger } from '@rivulet/core';
import { defineChannel } from './channel';
import { createMemoryBroadcast } from './memory-broadcast';

const X = defineChannel<number>('x');
const Y = defineChannel<number>('y');
const S = defineChannel<string>('x');

describe('memory broadcast', () => {
  it('delivers synchronously to every subscriber of the channel, and only that channel', () => {
    const b = createMemoryBroadcast();
    const a: number[] = [];
    const c: number[] = [];
    const other: number[] = [];
    b.subscribe(X, (e) => a.push(e));
    b.subscribe(X, (e) => c.push(e));
    b.subscribe(Y, (e) => other.push(e));
    b.publish(X, 1);
    b.publish(X, 2);
    expect(a).toEqual([1, 2]);
    expect(c).toEqual([1, 2]);
    expect(other).toEqual([]);
  });

  it('publishing to a channel without subscribers does nothing', () => {
    expect(() => createMemoryBroadcast().publish(defineChannel<string>('nobody'), 'x')).not.toThrow();
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
    const b = createMemoryBroadcast({ logger });
    const got: string[] = [];
    b.subscribe(S, () => {
      throw new Error('bad subscriber');
    });
    b.subscribe(S, (e) => got.push(e));
    expect(() => b.publish(S, 'hello')).not.toThrow();
    expect(got).toEqual(['hello']);
    expect(warnings).toEqual([{ channel: 'x', err: 'bad subscriber' }]);
  });

  it('unsubscribe removes exactly that subscription, and is idempotent', () => {
    const b = createMemoryBroadcast();
    const got: number[] = [];
    const handler = (e: number): void => {
      got.push(e);
    };
    const first = b.subscribe(X, handler);
    b.subscribe(X, handler);
    b.publish(X, 1);
    first();
    first();
    b.publish(X, 2);
    expect(got).toEqual([1, 1, 2]);
  });

  it('a subscriber may unsubscribe itself while being called', () => {
    const b = createMemoryBroadcast();
    const got: string[] = [];
    const off = b.subscribe(X, (e) => {
      got.push(`once:${e}`);
      off();
    });
    b.subscribe(X, (e) => got.push(`always:${e}`));
    b.publish(X, 1);
    b.publish(X, 2);
    expect(got).toEqual(['once:1', 'always:1', 'always:2']);
  });

  it('channel names are checked when defined', () => {
    expect(() => defineChannel('Bad Name')).toThrow(/invalid broadcast channel name "Bad Name"/);
    expect(() => defineChannel('')).toThrow(/invalid broadcast channel name/);
    expect(defineChannel<number>('rpc.to-device').name).toBe('rpc.to-device');
  });

  it('publish and subscribe are type-checked per channel', () => {
    const b = createMemoryBroadcast();
    // @ts-expect-error a string is not the number channel X carries
    b.publish(X, 'not a number');
    b.subscribe(S, (e: string) => e.length);
    // @ts-expect-error channel S carries strings, not numbers
    b.subscribe(S, (e: number) => e + 1);
  });

  it('sendToDevice reaches subscribers only while a session of the device is held, and says so', () => {
    const b = createMemoryBroadcast({ nodeId: 'n1' });
    const got: number[] = [];
    b.subscribe(X, (e) => got.push(e));
    expect(b.sendToDevice(X, 'd1', 1)).toBe(0);
    const first = b.holdSession('d1');
    const second = b.holdSession('d1');
    expect(b.heldSessions()).toBe(1);
    expect(b.sendToDevice(X, 'd1', 2)).toBe(1);
    first();
    first();
    expect(b.sendToDevice(X, 'd1', 3)).toBe(1);
    second();
    expect(b.sendToDevice(X, 'd1', 4)).toBe(0);
    expect(b.heldSessions()).toBe(0);
    expect(got).toEqual([2, 3]);
  });

  it('sendToNode reaches this node only; close() stops delivery and forgets sessions', async () => {
    const b = createMemoryBroadcast({ nodeId: 'n1' });
    const got: number[] = [];
    b.subscribe(X, (e) => got.push(e));
    b.sendToNode('n1', X, 1);
    b.sendToNode('elsewhere', X, 2);
    b.holdSession('d1');
    await b.close();
    b.publish(X, 3);
    expect(b.sendToDevice(X, 'd1', 4)).toBe(0);
    expect(got).toEqual([1]);
  });
});
