/**
 * A named broadcast channel that carries events of type T. The type exists only at compile time
 * (the phantom `__event`), so publish and subscribe are checked per channel while the wire carries
 * just the name. Names are constants (STYLE.md convention 1): define each channel once, in channels.ts.
 */
export interface Channel<T> {
  readonly name: string;
  /** Never set; only carries T for the type checker. */
  readonly __event?: (event: T) => T;
}

/** Event type carried by a channel. */
export type EventOf<C> = C extends Channel<infer T> ? T : never;

const CHANNEL_NAME = /^[a-z0-9][a-z0-9._-]{0,99}$/;

export function defineChannel<T>(name: string): Channel<T> {
  if (!CHANNEL_NAME.test(name)) throw new Error(`invalid broadcast channel name ${JSON.stringify(name)}: use 1-100 of a-z 0-9 . _ -`);
  return Object.freeze({ name });
}

/**
 * Fan-out of events to every subscriber of a channel, in this process and (Kafka implementation)
 * in every other one. At-most-once by design: a missed live update is re-read from storage by the
 * subscriber's next snapshot, a missed rule-chain change is caught by the engines' version check,
 * and an RPC call that loses its reply ends as a timeout; so nothing here needs to be durable.
 *
 * publish never throws for a subscriber's fault and never blocks: cross-process implementations
 * send in the background and log failures.
 */
export interface Broadcast {
  publish<T>(channel: Channel<T>, event: NoInfer<T>): void;
  subscribe<T>(channel: Channel<T>, handler: (event: NoInfer<T>) => void): () => void;
}
