import { describe, expect, it } from 'vitest';
import { BlockAssembler } from './block-assembler';
import { MessageType, decodeMessage, encodeMessage, parseBlockOption, uintOption } from './coap-message';
import { RateLimiter } from './rate-limiter';
import { ToDeviceRpcIds } from './rpc-ids';

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

describe('coap-message', () => {
  it('encodes and decodes options with extended deltas and lengths, token and payload', () => {
    const long = Buffer.alloc(300, 'p');
    const m = encodeMessage({
      type: MessageType.CON,
      code: '0.02',
      messageId: 0xbeef,
      token: Buffer.from([0xaa, 0xbb]),
      options: [
        [292, Buffer.from([1, 2, 3, 4])],
        [11, Buffer.from('api')],
        [11, long],
        [60, uintOption(65536)],
      ],
      payload: Buffer.from('{"a":1}'),
    });
    const d = decodeMessage(m);
    expect(d).toMatchObject({ type: MessageType.CON, codeText: '0.02', messageId: 0xbeef });
    expect(d?.token).toEqual(Buffer.from([0xaa, 0xbb]));
    expect(d?.options.map(([n, v]) => [n, v.length])).toEqual([
      [11, 3],
      [11, 300],
      [60, 3],
      [292, 4],
    ]);
    expect(d?.payload.toString()).toBe('{"a":1}');
  });

  it('Block option values; SZX 7 is reserved', () => {
    expect(parseBlockOption(Buffer.from([0x2e]))).toEqual({ num: 2, more: true, size: 1024 });
    expect(parseBlockOption(Buffer.from([0x07]))).toBeUndefined();
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, then one request per 1/perSecond, per key', () => {
    const r = new RateLimiter({ perSecond: 2, burst: 3 });
    expect([0, 0, 0].map(() => r.take('d', 0))).toEqual([0, 0, 0]);
    expect(r.take('d', 0)).toBe(500);
    expect(r.take('other', 0)).toBe(0);
    expect(r.take('d', 500)).toBe(0);
    expect(r.take('d', 500)).toBeGreaterThan(0);
  });

  it('holds at most maxKeys buckets', () => {
    const r = new RateLimiter({ perSecond: 1 }, 10);
    for (let i = 0; i < 100; i++) r.take(`d${i}`, 0);
    expect(r.size).toBe(10);
  });
});

describe('ToDeviceRpcIds', () => {
  it('small per-device ids, taken once, gone after expiry', () => {
    const ids = new ToDeviceRpcIds(2);
    const call = (requestId: string) => ({ requestId, oneway: false, expiresAt: 1000 });
    expect(ids.assign('d', call('r1'), 0)).toBe(1);
    expect(ids.assign('d', call('r2'), 0)).toBe(2);
    expect(ids.assign('e', call('r3'), 0)).toBe(1);
    expect(ids.take('d', 1, 10)?.requestId).toBe('r1');
    expect(ids.take('d', 1, 10)).toBeUndefined();
    expect(ids.take('d', 2, 1000)).toBeUndefined();
    // beyond maxPerDevice the oldest call goes
    ids.assign('e', call('r4'), 0);
    ids.assign('e', call('r5'), 0);
    expect(ids.take('e', 1, 0)).toBeUndefined();
    expect(ids.size).toBe(2);
  });
});
