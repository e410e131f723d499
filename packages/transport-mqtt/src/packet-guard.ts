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

/** The parts of mqtt-packet's Parser (aedes' `client._parser`) the guard touches. */
interface ParserState {
  packet: { length: number };
  _parseLength(): boolean;
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
  function guardedParseLength(this: ParserState): boolean {
    const ok = (parseLength as () => boolean).call(this);
    if (ok && this.packet.length > maxPacketBytes) {
      this._emitError(new PacketTooLargeError(this.packet.length, maxPacketBytes));
      return false;
    }
    return ok;
  }
  return (client) => {
    const parser = (client as unknown as { _parser?: ParserState })._parser;
    if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') {
      throw new Error('aedes client has no mqtt-packet parser to guard (aedes changed?)');
    }
    parseLength ??= (Object.getPrototypeOf(parser) as ParserState)._parseLength;
    // an own property on the instance: the shared prototype (also used by mqtt.js in this process) stays as it is
    parser._parseLength = guardedParseLength;
    parser.prependListener('packet', normalizeInbound);
  };
}
