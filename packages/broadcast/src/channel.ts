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
 * Events between the parts of Rivulet, in this process and (Kafka implementation) across processes.
 * Two kinds of delivery on the same typed channels:
 * - fan-out: publish() reaches every subscriber of the channel in every process (live updates,
 *   device changes, rule-chain and tenant-profile changes);
 * - directed: sendToDevice() reaches only the processes holding a session of that device
 *   (server-side RPC, shared-attribute pushes, replies to a device's own RPC), and sendToNode()
 *   only one process (RPC responses back to whoever asked). Transports announce the devices
 *   they hold with holdSession(); that is the session registry.
 *
 * At-most-once by design: a missed live update is re-read from storage by the subscriber's next
 * snapshot, a missed rule-chain change is caught by the engines' version check, and an RPC call
 * that loses its reply ends as a timeout; so nothing here needs to be durable.
 *
 * Neither publish nor send throws for a subscriber's fault or blocks: cross-process
 * implementations send in the background and log failures. Events must survive JSON
 * (plain objects, arrays, strings, finite numbers, booleans, null).
 */
export interface Broadcast {
  /** This process's id (RIVULET_NODE_ID): where directed replies to this process are addressed. */
  readonly nodeId: string;
  /** Fan-out to every subscriber of the channel, in every process. */
  publish<T>(channel: Channel<T>, event: NoInfer<T>): void;
  /** Fan-out and directed events of this channel that reach this process. */
  subscribe<T>(channel: Channel<T>, handler: (event: NoInfer<T>) => void): () => void;
  /**
   * Directed: to the subscribers of the channel in the processes holding a session of deviceId.
   * Returns how many processes it went to: 0, at once, when no process holds one (the device is
   * offline) and nothing is sent. A process that no longer holds the device when the event
   * arrives (the sender's registry was a moment behind) answers on DeviceChannel.UNDELIVERED.
   */
  sendToDevice<T>(channel: Channel<T>, deviceId: string, event: NoInfer<T>): number;
  /** Directed: to the subscribers of the channel in one process (e.g. an RPC response to the caller's node). */
  sendToNode<T>(nodeId: string, channel: Channel<T>, event: NoInfer<T>): void;
  /**
   * A transport holds a session of deviceId (a connection, an observation, a waiting long poll)
   * until the returned function is called (idempotent). Holds are counted per device: the
   * device counts as held by this process while any hold is open.
   */
  holdSession(deviceId: string): () => void;
  /** Devices this process holds a session of (stats and tests). */
  heldSessions(): number;
  /** Releases this process's sessions and stops delivering; publish and send afterwards do nothing. */
  close(): Promise<void>;
}
