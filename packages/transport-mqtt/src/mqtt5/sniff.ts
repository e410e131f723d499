import type { Duplex } from 'node:stream';

/** Bytes enough to read a CONNECT's protocol level: fixed header (1 + up to 4) + name length (2) + "MQIsdp" (6) + level (1). */
const SNIFF_BYTES = 14;

/**
 * The protocol level a connection's first bytes announce: 5 for MQTT 5, the level byte otherwise
 * (3 or 4 for MQTT 3.1/3.1.1), 0 when the bytes are no CONNECT or one declaring more than
 * maxPacketBytes (aedes then refuses it), or undefined while more bytes are needed [MQTT 5: 3.1.2.2; MQTT 3.1.1: 3.1.2.2].
 */
export function protocolLevel(head: Buffer, maxPacketBytes = Infinity): number | undefined {
  if (head.length < 1) return undefined;
  if (head[0] !== 0x10) return 0; // not CONNECT [MQTT-3.1.0-1]
  let i = 1;
  let length = 0;
  // Remaining Length: up to 4 bytes, the high bit says another follows
  for (;;) {
    if (i >= head.length) return undefined;
    const b = head[i] as number;
    length += (b & 0x7f) * 128 ** (i - 1);
    i++;
    if ((b & 0x80) === 0) break;
    if (i > 4) return 0;
  }
  // oversize: not worth waiting for; aedes' packet guard refuses (and counts) it
  if (length > maxPacketBytes) return 0;
  if (head.length < i + 2) return undefined;
  const nameLength = head.readUInt16BE(i);
  if (nameLength > 6) return 0; // "MQTT", or "MQIsdp" of 3.1
  const levelAt = i + 2 + nameLength;
  if (head.length <= levelAt) return undefined;
  return head[levelAt] as number;
}

/**
 * Reads a new connection's first bytes until the CONNECT's protocol level is known, puts them back
 * (unshift) and calls `route` with it, once. Costs nothing after the first packet: the listener is
 * removed and the stream is handed over paused, as fresh, to whoever reads it next (aedes reads
 * on 'readable'). A connection that sends nothing within `timeoutMs` is destroyed.
 */
export function sniffProtocolLevel(stream: Duplex, timeoutMs: number, maxPacketBytes: number, route: (level: number) => void): void {
  let head: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    finish();
    stream.destroy();
  }, timeoutMs);
  timer.unref?.();
  function finish(): void {
    clearTimeout(timer);
    stream.off('data', onData);
    stream.off('close', finish);
    stream.pause();
  }
  function onData(chunk: Buffer): void {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const level = protocolLevel(head, maxPacketBytes);
    if (level === undefined && head.length < SNIFF_BYTES) return;
    finish();
    stream.unshift(head);
    route(level ?? 0);
  }
  stream.on('data', onData);
  stream.on('close', finish);
}
