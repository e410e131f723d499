import { describe, expect, it } from 'vitest';
import { BlockAssembler } from './block-assembler';

const block = (num: number, more: boolean, size = 16) => ({ num, more, size });
const bytes = (n: number, fill = 'x') => Buffer.alloc(n, fill);

describe('BlockAssembler (Block1, RFC 7959)', () => {
  const make = (o: Partial<ConstructorParameters<typeof BlockAssembler>[0]> = {}) =>
    new BlockAssembler({ maxBytes: 100, maxTransfers: 3, lifetimeMs: 60_000, ...o });

  it('joins blocks in order into one payload', () => {
    const a = make();
    expect(a.add('k', block(0, true), bytes(16, 'a'))).toEqual({ kind: 'continue' });
    expect(a.add('k', block(1, true), bytes(16, 'b'))).toEqual({ kind: 'continue' });
    const last = a.add('k', block(2, false), bytes(5, 'c'));
    expect(last.kind === 'complete' && last.payload.toString()).toBe(`${'a'.repeat(16)}${'b'.repeat(16)}ccccc`);
    expect(a.size).toBe(0);
  });

  it('accepts a switch to smaller blocks by byte offset (num 2 of 16 = offset 32 = num 4 of 8)', () => {
    const a = make();
    a.add('k', block(0, true, 32), bytes(32));
    expect(a.add('k', block(4, false, 8), bytes(3)).kind).toBe('complete');
  });

  it('4.08 for a gap or an unknown transfer, and the transfer is dropped', () => {
    const a = make();
    expect(a.add('k', block(1, true), bytes(16)).kind).toBe('incomplete');
    a.add('k', block(0, true), bytes(16));
    expect(a.add('k', block(2, false), bytes(3)).kind).toBe('incomplete');
    expect(a.size).toBe(0);
  });

  it('4.13 as soon as the total passes the limit, or when Size1 announces more', () => {
    const a = make({ maxBytes: 40 });
    a.add('k', block(0, true), bytes(16));
    a.add('k', block(1, true), bytes(16));
    expect(a.add('k', block(2, true), bytes(16)).kind).toBe('too-large');
    expect(a.add('k2', block(0, true), bytes(16), 1000).kind).toBe('too-large');
    expect(a.size).toBe(0);
  });

  it('4.00 for a non-final block shorter than the block size', () => {
    expect(make().add('k', block(0, true), bytes(10)).kind).toBe('bad');
  });

  it('keeps at most maxTransfers unfinished transfers (the oldest goes) and forgets old ones', () => {
    let t = 0;
    const a = make({ maxTransfers: 3, lifetimeMs: 1000, now: () => t });
    for (const k of ['a', 'b', 'c', 'd']) a.add(k, block(0, true), bytes(16));
    expect(a.size).toBe(3);
    expect(a.add('a', block(1, false), bytes(1)).kind).toBe('incomplete');
    expect(a.add('d', block(1, false), bytes(1)).kind).toBe('complete');
    t = 1000;
    a.prune();
    expect(a.size).toBe(0);
  });
});

