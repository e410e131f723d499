/**
 * The few CoAP wire details this transport handles itself (RFC 7252 §3): reading the fixed header
 * of a datagram before (or without) the coap package parsing it, and encoding the small messages
 * the package cannot send for us (Reset, an error answer to a request it failed on).
 */

/** Message types, the T field of the header (RFC 7252 §3). */
export const MessageType = {
  CON: 0,
  NON: 1,
  ACK: 2,
  RST: 3,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Response codes this transport answers with, as the coap package spells them. */
export const Code = {
  CREATED: '2.01',
  CONTINUE: '2.31',
  DELETED: '2.02',
  VALID: '2.03',
  CONTENT: '2.05',
  BAD_REQUEST: '4.00',
  UNAUTHORIZED: '4.01',
  BAD_OPTION: '4.02',
  NOT_FOUND: '4.04',
  METHOD_NOT_ALLOWED: '4.05',
  REQUEST_ENTITY_INCOMPLETE: '4.08',
  REQUEST_ENTITY_TOO_LARGE: '4.13',
  TOO_MANY_REQUESTS: '4.29',
  INTERNAL_SERVER_ERROR: '5.00',
  NOT_IMPLEMENTED: '5.01',
  SERVICE_UNAVAILABLE: '5.03',
  GATEWAY_TIMEOUT: '5.04',
} as const;
export type Code = (typeof Code)[keyof typeof Code];

/** Option numbers used when encoding by hand (RFC 7252 §5.10, RFC 7959 §2.1). */
export const OptionNumber = {
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  BLOCK1: 27,
  SIZE1: 60,
} as const;

export interface Header {
  readonly type: MessageType;
  /** The raw code byte: class in the top 3 bits, detail in the low 5. */
  readonly code: number;
  readonly messageId: number;
  readonly token: Buffer;
}

/**
 * The fixed header and token of a datagram, or undefined when it is not a well-formed CoAP
 * version 1 header (such messages are silently ignored, RFC 7252 §3 and §4.2).
 */
export function readHeader(datagram: Buffer): Header | undefined {
  if (datagram.length < 4) return undefined;
  const b0 = datagram[0] as number;
  if (b0 >> 6 !== 1) return undefined;
  const tokenLength = b0 & 0x0f;
  // 9-15 are reserved: a message format error
  if (tokenLength > 8 || datagram.length < 4 + tokenLength) return undefined;
  return {
    type: ((b0 >> 4) & 0x03) as MessageType,
    code: datagram[1] as number,
    messageId: datagram.readUInt16BE(2),
    token: datagram.subarray(4, 4 + tokenLength),
  };
}

/** '4.13' -> 0x8d */
export function codeByte(code: string): number {
  const dot = code.indexOf('.');
  return (Number(code.slice(0, dot)) << 5) | Number(code.slice(dot + 1));
}

export interface EncodeInput {
  type: MessageType;
  code: string;
  messageId: number;
  token?: Buffer;
  options?: ReadonlyArray<readonly [number, Buffer]>;
  payload?: Buffer;
}

function extended(n: number): { nibble: number; bytes: number[] } {
  if (n < 13) return { nibble: n, bytes: [] };
  if (n < 269) return { nibble: 13, bytes: [n - 13] };
  return { nibble: 14, bytes: [(n - 269) >> 8, (n - 269) & 0xff] };
}

/** One CoAP message (RFC 7252 §3): header, token, options in ascending order, payload. */
export function encodeMessage(m: EncodeInput): Buffer {
  const token = m.token ?? Buffer.alloc(0);
  const parts: Buffer[] = [];
  const header = Buffer.alloc(4);
  header[0] = (1 << 6) | (m.type << 4) | token.length;
  header[1] = codeByte(m.code);
  header.writeUInt16BE(m.messageId, 2);
  parts.push(header, token);
  let previous = 0;
  for (const [number, value] of [...(m.options ?? [])].sort((a, b) => a[0] - b[0])) {
    const delta = extended(number - previous);
    const length = extended(value.length);
    parts.push(Buffer.from([(delta.nibble << 4) | length.nibble, ...delta.bytes, ...length.bytes]), value);
    previous = number;
  }
  if (m.payload && m.payload.length > 0) parts.push(Buffer.from([0xff]), m.payload);
  return Buffer.concat(parts);
}

/** An unsigned integer option value in the fewest bytes (RFC 7252 §3.2 "uint"). */
export function uintOption(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

/** The Block1/Block2 option value (RFC 7959 §2.2), or undefined for the reserved SZX 7. */
export function parseBlockOption(value: Buffer): { num: number; more: boolean; size: number } | undefined {
  if (value.length > 3) return undefined;
  let v = 0;
  for (const b of value) v = v * 256 + b;
  const szx = v & 0x07;
  if (szx === 7) return undefined;
  return { num: v >> 4, more: (v & 0x08) !== 0, size: 1 << (szx + 4) };
}

export interface DecodedMessage extends Header {
  /** '2.05' */
  readonly codeText: string;
  readonly options: ReadonlyArray<readonly [number, Buffer]>;
  readonly payload: Buffer;
}

/** A whole message (used by tests and tools; the server path uses the coap package's parser). */
export function decodeMessage(datagram: Buffer): DecodedMessage | undefined {
  const h = readHeader(datagram);
  if (h === undefined) return undefined;
  const options: Array<readonly [number, Buffer]> = [];
  let i = 4 + h.token.length;
  let number = 0;
  const ext = (nibble: number): number | undefined => {
    if (nibble < 13) return nibble;
    if (nibble === 13) return i < datagram.length ? (datagram[i++] as number) + 13 : undefined;
    if (nibble === 14 && i + 1 < datagram.length) {
      const v = datagram.readUInt16BE(i) + 269;
      i += 2;
      return v;
    }
    return undefined;
  };
  while (i < datagram.length && datagram[i] !== 0xff) {
    const b = datagram[i++] as number;
    const delta = ext(b >> 4);
    const length = ext(b & 0x0f);
    if (delta === undefined || length === undefined || i + length > datagram.length) return undefined;
    number += delta;
    options.push([number, datagram.subarray(i, i + length)]);
    i += length;
  }
  const payload = i < datagram.length ? datagram.subarray(i + 1) : Buffer.alloc(0);
  return { ...h, codeText: `${h.code >> 5}.${String(h.code & 0x1f).padStart(2, '0')}`, options, payload };
}
