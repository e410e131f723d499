import { isUtf8 } from 'node:buffer';
import type { Client } from 'aedes';

/** A packet whose declared Remaining Length is over the transport's limit. */
export class PacketTooLargeError extends Error {
  constructor(
    readonly declaredBytes: number,
    readonly limitBytes: number,
  ) {
    super(`MQTT packet of ${declaredBytes} bytes is over the limit of ${limitBytes} bytes`);
    this.name = 'PacketTooLargeError';
  }
}

/**
 * A UTF-8 string field (a PUBLISH topic, a client id, a topic filter...) that MQTT forbids: ill-formed
 * UTF-8 or U+0000 [MQTT-1.5.3-1, MQTT-1.5.3-2], or a wildcard in a PUBLISH topic name [MQTT-3.3.2-2].
 * The receiver MUST close the connection; mqtt-packet would have decoded it with replacement
 * characters and aedes acknowledged it.
 */
export class MalformedStringError extends Error {
  constructor(
    /** The packet it came in (publish, connect, subscribe, ...). */
    readonly packetType: string,
    readonly reason: 'invalid UTF-8' | 'NUL character' | 'wildcard in topic name',
  ) {
    super(`MQTT ${packetType} carries a string with ${reason === 'invalid UTF-8' ? 'invalid UTF-8' : `a ${reason}`}`);
    this.name = 'MalformedStringError';
  }
  /** The PUBLISH topic name (the rest are other string fields). */
  get isPublishTopic(): boolean {
    return this.packetType === 'publish';
  }
}

/** The parts of mqtt-packet's Parser (aedes' `client._parser`) the guard touches. */
interface ParserState {
  packet: { length: number; cmd: string; topic?: string | null };
  error: Error | null;
  _pos: number;
  _list: { slice(start: number, end: number): Buffer };
  _parseLength(): boolean;
  _parseString(): string | null;
  _parsePublish(): void;
  _emitError(err: Error): void;
  prependListener(event: 'packet', listener: (packet: InboundPacket) => void): unknown;
}

interface InboundPacket {
  cmd: string;
  subscriptions?: Array<{ qos: number }>;
}

/**
 * Runs before aedes sees a parsed packet. A SUBSCRIBE asking for QoS 2 is granted QoS 1: the
 * server may grant less than asked [MQTT-3.8.4-6], and aedes' SUBACK echoes the requested QoS
 * unless the packet says otherwise before it is handled.
 */
function normalizeInbound(packet: InboundPacket): void {
  if (packet.cmd !== 'subscribe' || !packet.subscriptions) return;
  for (const s of packet.subscriptions) if (s.qos > 1) s.qos = 1;
}

/**
 * Guards each connection's parser. Refuses a packet as soon as its fixed header declares a
 * Remaining Length over `maxPacketBytes`, before any of its body is buffered. Without it, mqtt-packet (inside aedes) collects a whole packet
 * of up to 256 MB before anyone can look at it, even a CONNECT from an unauthenticated socket.
 * Refuses UTF-8 string fields MQTT forbids (MalformedStringError) while the packet is parsed, so
 * such a packet never reaches aedes' handlers (no PUBACK, no CONNACK).
 * The parser's error closes the connection (aedes' client error path): MQTT 3.1.1 has no way to
 * refuse one packet and keep the connection.
 *
 * It wraps the parser's length step on this client's parser instance (and adds normalizeInbound
 * in front of aedes' packet listener); aedes is pinned in package.json and a test fails if the
 * parser's shape changes.
 */
export function createPacketGuard(maxPacketBytes: number): (client: Client) => void {
  /** mqtt-packet's own length step, taken from the first parser's prototype. */
  let parseLength: (() => boolean) | undefined;
  let parseString: (() => string | null) | undefined;
  let parsePublish: (() => void) | undefined;
  function guardedParseLength(this: ParserState): boolean {
    const ok = (parseLength as () => boolean).call(this);
    if (ok && this.packet.length > maxPacketBytes) {
      this._emitError(new PacketTooLargeError(this.packet.length, maxPacketBytes));
      return false;
    }
    return ok;
  }
  /**
   * Every UTF-8 string field of every packet [MQTT-1.5.3]. mqtt-packet decodes with replacement
   * characters, so only a string holding U+FFFD or U+0000 needs its bytes looked at (a valid
   * U+FFFD, EF BF BD, stays accepted).
   */
  function guardedParseString(this: ParserState): string | null {
    const start = this._pos;
    const result = (parseString as () => string | null).call(this);
    if (result === null || this.error || (!result.includes('\uFFFD') && !result.includes('\0'))) return result;
    // start: the 2-byte length; the string's bytes follow up to the new position
    const bytes = this._list.slice(start + 2, this._pos);
    const reason = !isUtf8(bytes) ? 'invalid UTF-8' : bytes.includes(0) ? 'NUL character' : undefined;
    // the error stops the parser: the packet is never emitted, and aedes closes the connection
    if (reason) this._emitError(new MalformedStringError(this.packet.cmd, reason));
    return result;
  }
  /** Topic names in PUBLISH must not contain wildcards [MQTT-3.3.2-2]; aedes closes too, but this counts it. */
  function guardedParsePublish(this: ParserState): void {
    (parsePublish as () => void).call(this);
    const topic = this.packet.topic;
    if (!this.error && typeof topic === 'string' && (topic.includes('+') || topic.includes('#'))) {
      this._emitError(new MalformedStringError('publish', 'wildcard in topic name'));
    }
  }
  return (client) => {
    const parser = (client as unknown as { _parser?: ParserState })._parser;
    if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') {
      throw new Error('aedes client has no mqtt-packet parser to guard (aedes changed?)');
    }
    if (typeof parser._parseString !== 'function' || typeof parser._parsePublish !== 'function') {
      throw new Error('aedes client parser has no string or publish step to guard (mqtt-packet changed?)');
    }
    const proto = Object.getPrototypeOf(parser) as ParserState;
    parseLength ??= proto._parseLength;
    parseString ??= proto._parseString;
    parsePublish ??= proto._parsePublish;
    // own properties on the instance: the shared prototype (also used by mqtt.js in this process) stays as it is
    parser._parseLength = guardedParseLength;
    parser._parseString = guardedParseString;
    parser._parsePublish = guardedParsePublish;
    parser.prependListener('packet', normalizeInbound);
  };
}
