import { describe, expect, it } from 'vitest';
import { MessageType, encodeMessage } from './coap-message';
import { EXCHANGE_LIFETIME_MS, ExchangeStore } from './exchange-store';

const EP = '10.0.0.7:40000';
const TOKEN = Buffer.from([1, 2, 3, 4]);
const ack = (mid: number, code = '2.01') => encodeMessage({ type: MessageType.ACK, code, messageId: mid, token: TOKEN });

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('ExchangeStore (RFC 7252 §4.5 deduplication)', () => {
  it('a request is new once; a copy while in flight is dropped; after the answer the copy gets the same bytes', () => {
    const s = new ExchangeStore();
    expect(s.begin(EP, 7, TOKEN)).toEqual({ kind: 'new' });
    expect(s.begin(EP, 7, TOKEN)).toEqual({ kind: 'in-flight' });
    s.recordReply(EP, 7, ack(7));
    const again = s.begin(EP, 7, TOKEN);
    expect(again.kind).toBe('answered');
    expect(again.kind === 'answered' && again.reply.equals(ack(7))).toBe(true);
  });

  it('the same message id from another endpoint, or another id from the same endpoint, is a new request', () => {
    const s = new ExchangeStore();
    s.begin(EP, 7, TOKEN);
    expect(s.begin('10.0.0.7:40001', 7, TOKEN).kind).toBe('new');
    expect(s.begin(EP, 8, TOKEN).kind).toBe('new');
  });

  it('the first answer wins: after an empty ACK the copy gets the empty ACK again (RFC 7252 §5.2.2)', () => {
    const s = new ExchangeStore();
    s.begin(EP, 9, TOKEN);
    const emptyAck = encodeMessage({ type: MessageType.ACK, code: '0.00', messageId: 9 });
    s.recordReply(EP, 9, emptyAck);
    s.recordReply(EP, 9, ack(9, '2.05'));
    const r = s.begin(EP, 9, TOKEN);
    expect(r.kind === 'answered' && r.reply.equals(emptyAck)).toBe(true);
  });

  it('a NON answer only counts when it carries the request token', () => {
    const s = new ExchangeStore();
    s.begin(EP, 11, TOKEN);
    const other = encodeMessage({ type: MessageType.NON, code: '2.05', messageId: 11, token: Buffer.from([9]) });
    s.recordReply(EP, 11, other, Buffer.from([9]));
    expect(s.begin(EP, 11, TOKEN).kind).toBe('in-flight');
    const mine = encodeMessage({ type: MessageType.NON, code: '2.05', messageId: 11, token: TOKEN });
    s.recordReply(EP, 11, mine, TOKEN);
    expect(s.begin(EP, 11, TOKEN).kind).toBe('answered');
  });

  it('forget() lets an unanswered exchange be processed again, but never drops an answered one', () => {
    const s = new ExchangeStore();
    s.begin(EP, 1, TOKEN);
    s.forget(EP, 1);
    expect(s.begin(EP, 1, TOKEN).kind).toBe('new');
    s.recordReply(EP, 1, ack(1));
    s.forget(EP, 1);
    expect(s.begin(EP, 1, TOKEN).kind).toBe('answered');
  });

  it('remembers an exchange for the lifetime (247 s by default), then forgets it', () => {
    const c = clock();
    const s = new ExchangeStore({ now: c.now });
    expect(s.lifetimeMs).toBe(EXCHANGE_LIFETIME_MS);
    s.begin(EP, 5, TOKEN);
    s.recordReply(EP, 5, ack(5));
    c.advance(EXCHANGE_LIFETIME_MS - 1);
    expect(s.begin(EP, 5, TOKEN).kind).toBe('answered');
    c.advance(1);
    expect(s.begin(EP, 5, TOKEN).kind).toBe('new');
    expect(s.expired).toBe(1);
  });

  it('sustained load: 50,000 exchanges never hold more than the cap; the newest are still deduplicated', () => {
    const cap = 1_000;
    const c = clock();
    const s = new ExchangeStore({ maxEntries: cap, now: c.now });
    let maxSize = 0;
    let fresh = 0;
    const reply = ack(1);
    for (let i = 0; i < 50_000; i++) {
      const ep = `10.0.${(i >> 8) & 0xff}.${i & 0xff}:5683`;
      if (s.begin(ep, i & 0xffff, TOKEN).kind === 'new') fresh++;
      s.recordReply(ep, i & 0xffff, reply);
      maxSize = Math.max(maxSize, s.size);
      if (i % 100 === 0) c.advance(1);
    }
    expect(fresh).toBe(50_000);
    expect(maxSize).toBe(cap);
    expect(s.size).toBe(cap);
    expect(s.evicted).toBe(50_000 - cap);
    const last = 49_999;
    expect(s.begin(`10.0.${(last >> 8) & 0xff}.${last & 0xff}:5683`, last & 0xffff, TOKEN).kind).toBe('answered');
  });

  it('prune() empties an idle store after the lifetime', () => {
    const c = clock();
    const s = new ExchangeStore({ now: c.now, lifetimeMs: 1000 });
    for (let i = 0; i < 100; i++) s.begin(EP, i, TOKEN);
    c.advance(999);
    s.prune();
    expect(s.size).toBe(100);
    c.advance(1);
    s.prune();
    expect(s.size).toBe(0);
  });

  it('refuses a cap below 1', () => {
    expect(() => new ExchangeStore({ maxEntries: 0 })).toThrow(RangeError);
  });
});
