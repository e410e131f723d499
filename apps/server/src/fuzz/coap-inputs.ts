/**
 * CoAP datagrams for the fuzzer (RFC 7252, 7641, 7959): random header fields, tokens of every
 * length (including the reserved 9-15), options with delta/length nibbles 13, 14 and the reserved
 * 15, Block1/Block2 and Observe, payload markers with no payload, and mutations of valid requests.
 */
import { encodeMessage } from '@rivulet/transport-coap';
import { mutateBytes, randomJson, type Rng } from '@rivulet/testing';

/** An unsigned integer option value in the fewest bytes (RFC 7252 3.2). */
function uintOption(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

const RESOURCES = ['telemetry', 'attributes', 'rpc', 'rpc/5', 'claim', 'provision', 'attributes/updates', '', 'x'];
/** Known options, unknown elective (even) and unknown critical (odd) ones. */
const OPTION_NUMBERS = [1, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 39, 60, 9, 2048, 2049, 65000, 65001];

function uriPath(rng: Rng, token: string): Array<readonly [number, Buffer]> {
  const segs = ['api', 'v1', rng.chance(0.8) ? token : rng.string(rng.length(40)), ...rng.pick(RESOURCES).split('/')];
  if (rng.chance(0.1)) segs.splice(rng.int(0, segs.length), 0, rng.string(rng.length(300)));
  return segs.map((s) => [11, Buffer.from(s)] as const);
}

function optionValue(rng: Rng, n: number): Buffer {
  if (n === 27 || n === 23) return uintOption(rng.int(0, 2 ** 24 - 1)); // Block1/Block2: any NUM, M, SZX (7 reserved)
  if (n === 6) return uintOption(rng.pick([0, 1, rng.int(0, 2 ** 24 - 1)])); // Observe register / deregister / junk
  if (n === 12 || n === 17) return uintOption(rng.pick([0, 50, 60, 42, rng.int(0, 65535)]));
  return rng.bytes(rng.length(rng.chance(0.05) ? 1100 : 40));
}

/** A well-formed request with random method, type, token, options and payload. */
function request(rng: Rng, token: string, messageId: number): Buffer {
  const options: Array<readonly [number, Buffer]> = rng.chance(0.9) ? uriPath(rng, token) : [];
  for (let i = rng.int(0, 4); i > 0; i--) {
    const n = rng.pick(OPTION_NUMBERS);
    options.push([n, optionValue(rng, n)]);
  }
  const body = rng.chance(0.7) ? Buffer.from(JSON.stringify(randomJson(rng)) ?? '') : rng.bytes(rng.length(1200));
  return encodeMessage({
    type: rng.int(0, 3) as 0,
    code: rng.pick(['0.01', '0.02', '0.02', '0.03', '0.04', '0.05', '0.00', '2.05', '4.04', `${rng.int(0, 7)}.${String(rng.int(0, 31)).padStart(2, '0')}`]),
    messageId,
    token: rng.bytes(rng.int(0, 8)),
    options,
    payload: body,
  });
}

/** A header by hand: any version, type, token length 0-15 and code byte, then raw option bytes. */
function rawDatagram(rng: Rng, messageId: number): Buffer {
  const tkl = rng.int(0, 15);
  const head = Buffer.from([(rng.pick([1, 1, 1, rng.int(0, 3)]) << 6) | (rng.int(0, 3) << 4) | tkl, rng.int(0, 255), messageId >> 8, messageId & 0xff]);
  const parts = [head, rng.bytes(Math.min(tkl, 8))];
  for (let i = rng.int(0, 5); i > 0; i--) {
    // nibbles 13 and 14 take one and two extension bytes; 15 is reserved (a format error unless it is the 0xff marker)
    const delta = rng.pick([0, 1, 11, 12, 13, 14, 15]);
    const length = rng.pick([0, 1, 4, 12, 13, 14, 15]);
    const ext = (nib: number): number[] => (nib === 13 ? [rng.int(0, 255)] : nib === 14 ? [rng.int(0, 255), rng.int(0, 255)] : []);
    parts.push(Buffer.from([(delta << 4) | length, ...ext(delta), ...ext(length)]), rng.bytes(rng.length(30)));
  }
  if (rng.chance(0.5)) parts.push(Buffer.from([0xff])); // a payload marker, often with nothing after it (a format error)
  if (rng.chance(0.3)) parts.push(rng.bytes(rng.length(200)));
  return Buffer.concat(parts);
}

/** A block-wise upload of the fuzz device in random order, sizes and M flags (RFC 7959 2.5). */
function blockSequence(rng: Rng, token: string, messageId: number): Buffer[] {
  const szx = rng.int(0, 6);
  const size = 1 << (szx + 4);
  const n = rng.int(1, 6);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const num = rng.chance(0.8) ? i : rng.int(0, 4095);
    const more = rng.chance(0.8) ? i < n - 1 : rng.chance(0.5);
    out.push(
      encodeMessage({
        type: 0,
        code: '0.02',
        messageId: (messageId + i) & 0xffff,
        token: Buffer.from([i]),
        options: [...uriPath(rng, token), [27, uintOption((num << 4) | (more ? 8 : 0) | szx)], ...(rng.chance(0.3) ? [[60, uintOption(rng.int(0, 1e6))] as const] : [])],
        payload: rng.bytes(rng.chance(0.8) ? size : rng.int(0, size * 2)),
      }),
    );
  }
  return out;
}

/** The datagrams of one case (one to six). */
export function coapCase(rng: Rng, token: string): Buffer[] {
  const messageId = rng.int(0, 65535);
  switch (rng.int(0, 9)) {
    case 0:
    case 1:
    case 2:
      return [request(rng, token, messageId)];
    case 3:
    case 4:
    case 5:
      return [mutateBytes(rng, request(rng, token, messageId))];
    case 6:
    case 7:
      return [rawDatagram(rng, messageId)];
    case 8:
      return blockSequence(rng, token, messageId);
    default:
      return [rng.bytes(rng.length(1500))];
  }
}
