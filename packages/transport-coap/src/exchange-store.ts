/**
 * Message deduplication (RFC 7252 §4.5): a Confirmable request retransmitted with the same Message
 * ID from the same endpoint must be answered again, with the same answer, and processed once.
 *
 * The coap package's own deduplication is a response cache that keeps the whole response machinery
 * of every request (about 5 KB of heap each) for EXCHANGE_LIFETIME, bounded only by response bytes,
 * and it only knows a request once its answer was sent, so a retransmission that arrives while the
 * first copy is still being processed is processed twice. This store replaces it: one small record
 * per exchange (the answer's bytes as a latin1 string), known from the moment the request arrives,
 * bounded by count and by age. Under a load above maxEntries / lifetime requests per second the
 * count bound wins and the window shrinks to maxEntries / rate seconds; `evicted` counts that.
 */

export interface ExchangeStoreOptions {
  /** Most exchanges remembered; the oldest go first. */
  maxEntries?: number;
  /** How long an exchange is remembered (EXCHANGE_LIFETIME, 247 s, by default). */
  lifetimeMs?: number;
  now?: () => number;
}

export type BeginResult =
  /** First copy: process it. */
  | { readonly kind: 'new' }
  /** A copy of a request still being processed: drop it, the answer will come. */
  | { readonly kind: 'in-flight' }
  /** A copy of a request already answered: send these bytes again. */
  | { readonly kind: 'answered'; readonly reply: Buffer };

interface Exchange {
  readonly at: number;
  /** Token of the request (latin1): a NON answer only counts as the answer if it carries it. */
  readonly token: string;
  /** The answer's bytes (latin1: a compact one-byte string, not a Buffer object per entry). */
  reply: string | undefined;
}

export const EXCHANGE_LIFETIME_MS = 247_000;
export const DEFAULT_DEDUP_MAX_ENTRIES = 100_000;

const IN_FLIGHT: BeginResult = { kind: 'in-flight' };
const NEW: BeginResult = { kind: 'new' };

export class ExchangeStore {
  readonly maxEntries: number;
  readonly lifetimeMs: number;
  private readonly now: () => number;
  // Insertion order is age order: a key is only ever (re)inserted with the current time.
  private readonly entries = new Map<string, Exchange>();
  private evictedCount = 0;
  private expiredCount = 0;

  constructor(options: ExchangeStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_DEDUP_MAX_ENTRIES;
    this.lifetimeMs = options.lifetimeMs ?? EXCHANGE_LIFETIME_MS;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  /** Called for every request: whether it is new, and remembers it if so. */
  begin(endpoint: string, messageId: number, token: Buffer): BeginResult {
    const now = this.now();
    this.prune(now);
    const key = exchangeKey(endpoint, messageId);
    const e = this.entries.get(key);
    if (e !== undefined) {
      return e.reply === undefined ? IN_FLIGHT : { kind: 'answered', reply: Buffer.from(e.reply, 'latin1') };
    }
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evictedCount++;
    }
    this.entries.set(key, { at: now, token: token.toString('latin1'), reply: undefined });
    return NEW;
  }

  /**
   * The answer to a request, as sent. An ACK always belongs to the exchange of its message ID (an
   * empty ACK carries no token); a NON answer only when it carries the request's token. The first
   * answer wins: after an empty ACK the response goes separately, and a retransmitted request is
   * answered with the empty ACK again (RFC 7252 §5.2.2).
   */
  recordReply(endpoint: string, messageId: number, bytes: Buffer, token?: Buffer): void {
    const e = this.entries.get(exchangeKey(endpoint, messageId));
    if (e === undefined || e.reply !== undefined) return;
    if (token !== undefined && token.toString('latin1') !== e.token) return;
    e.reply = bytes.toString('latin1');
  }

  /** Forgets an exchange that ended without an answer, so that a retransmission is processed. */
  forget(endpoint: string, messageId: number): void {
    const key = exchangeKey(endpoint, messageId);
    const e = this.entries.get(key);
    if (e !== undefined && e.reply === undefined) this.entries.delete(key);
  }

  /** Drops exchanges older than the lifetime (cheap: they sit at the head of the map). */
  prune(now = this.now()): void {
    const limit = now - this.lifetimeMs;
    for (const [key, e] of this.entries) {
      if (e.at > limit) break;
      this.entries.delete(key);
      this.expiredCount++;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Exchanges dropped by the count bound before their lifetime ended. */
  get evicted(): number {
    return this.evictedCount;
  }

  get expired(): number {
    return this.expiredCount;
  }

  clear(): void {
    this.entries.clear();
  }
}

function exchangeKey(endpoint: string, messageId: number): string {
  return `${endpoint}#${messageId}`;
}
