/**
 * Block-wise request payloads (Block1, RFC 7959 §2.5), reassembled here rather than in the coap
 * package: it matches the blocks of one request by their token, but a client may use a new token
 * for every block (libcoap does, tying them with Request-Tag, RFC 9175). A transfer is identified by
 * client endpoint, request path and Request-Tag, and must arrive in order (atomic, RFC 7959 §2.3).
 *
 * Bounded four ways: total size (4.13 as soon as it is passed, or announced by Size1), number of
 * unfinished transfers (the oldest is dropped), transfers per client endpoint (that endpoint's
 * oldest is dropped), and age. Only authenticated transfers get here (coap-endpoint authorizes
 * block 0 first), so unauthenticated datagrams cannot push a device's transfer out.
 */

export type BlockStep =
  /** More blocks to come: answer 2.31 Continue. */
  | { readonly kind: 'continue' }
  /** The last block: the whole payload. */
  | { readonly kind: 'complete'; readonly payload: Buffer }
  /** 4.13: over the size limit. */
  | { readonly kind: 'too-large' }
  /** 4.08: a block out of order, or a transfer we no longer (or never) had. */
  | { readonly kind: 'incomplete' }
  /** 4.00: a non-final block whose payload is not the block size. */
  | { readonly kind: 'bad' };

export interface BlockAssemblerOptions {
  maxBytes: number;
  maxTransfers: number;
  /** Unfinished transfers of one client endpoint (address:port); a new one past it drops that endpoint's oldest. 0: no cap. */
  maxTransfersPerEndpoint?: number;
  lifetimeMs: number;
  now?: () => number;
}

interface Transfer {
  readonly at: number;
  readonly parts: Buffer[];
  bytes: number;
}

const CONTINUE: BlockStep = { kind: 'continue' };
const TOO_LARGE: BlockStep = { kind: 'too-large' };
const INCOMPLETE: BlockStep = { kind: 'incomplete' };
const BAD: BlockStep = { kind: 'bad' };

export class BlockAssembler {
  // insertion order is start order
  private readonly transfers = new Map<string, Transfer>();
  private readonly now: () => number;

  constructor(private readonly options: BlockAssemblerOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.transfers.size;
  }

  /** `key` starts with the client endpoint and a '|' (the per-endpoint cap reads it). */
  add(key: string, block: { num: number; more: boolean; size: number }, payload: Buffer, declaredSize?: number): BlockStep {
    this.prune();
    let t: Transfer | undefined;
    if (block.num === 0) {
      this.transfers.delete(key);
      if (declaredSize !== undefined && declaredSize > this.options.maxBytes) return TOO_LARGE;
      t = { at: this.now(), parts: [], bytes: 0 };
    } else {
      t = this.transfers.get(key);
      // the byte offset, not the block number, so a client may switch to smaller blocks mid-way
      if (t === undefined || block.num * block.size !== t.bytes) {
        this.transfers.delete(key);
        return INCOMPLETE;
      }
    }
    if (block.more && payload.length !== block.size) {
      this.transfers.delete(key);
      return BAD;
    }
    if (t.bytes + payload.length > this.options.maxBytes) {
      this.transfers.delete(key);
      return TOO_LARGE;
    }
    // a copy: the payload is a view of the whole datagram
    t.parts.push(Buffer.from(payload));
    t.bytes += payload.length;
    if (!block.more) {
      this.transfers.delete(key);
      return { kind: 'complete', payload: t.parts.length === 1 ? (t.parts[0] as Buffer) : Buffer.concat(t.parts, t.bytes) };
    }
    if (block.num === 0) {
      this.capEndpoint(key);
      if (this.transfers.size >= this.options.maxTransfers) this.transfers.delete(this.transfers.keys().next().value as string);
      this.transfers.set(key, t);
    }
    return CONTINUE;
  }

  /** Makes room for one more transfer of `key`'s endpoint: its own oldest goes, never another endpoint's. */
  private capEndpoint(key: string): void {
    const max = this.options.maxTransfersPerEndpoint ?? 0;
    if (max <= 0) return;
    const prefix = key.slice(0, key.indexOf('|') + 1);
    const mine: string[] = [];
    for (const k of this.transfers.keys()) if (k.startsWith(prefix)) mine.push(k);
    for (let i = 0; i <= mine.length - max; i++) this.transfers.delete(mine[i] as string);
  }

  prune(now = this.now()): void {
    const limit = now - this.options.lifetimeMs;
    for (const [key, t] of this.transfers) {
      if (t.at > limit) break;
      this.transfers.delete(key);
    }
  }

  clear(): void {
    this.transfers.clear();
  }
}
