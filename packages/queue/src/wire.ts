import { ErrorCode, RivuletError } from '@rivulet/core';

/**
 * The wire form of a queue record's value, defined once for every queue that crosses a process
 * boundary (Kafka; anything reading Rivulet's topics directly, e.g. Spark or Flink):
 *
 *   UTF-8 JSON  {"v":1,"value":<the value>}
 *
 * `v` is the envelope version. A reader refuses versions it does not know with a clear error
 * (WireDecodeError) instead of guessing; the Kafka queue sends such records to the dead-letter
 * topic and moves on, so one bad record never blocks a partition. The record key (the originator
 * id for rule-engine messages) travels as the Kafka message key, not in the envelope.
 * For rule-engine records the value is a Msg from @rivulet/core: plain JSON by design. JSON cannot
 * tell 1.0 from 1, so a Msg names its data's keys holding a DOUBLE of integral value in its own
 * optional field `doubles` (left out when there is none; docs/api.md, "Number types").
 */
export const WIRE_VERSION = 1;

/** Largest encoded value accepted by decode (Kafka's default max message size is about 1 MiB). */
export const MAX_WIRE_BYTES = 8 * 1024 * 1024;

export class WireDecodeError extends RivuletError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BAD_REQUEST, message, options);
    this.name = 'WireDecodeError';
  }
}

export class WireEncodeError extends RivuletError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BAD_REQUEST, message, options);
    this.name = 'WireEncodeError';
  }
}

/** Encodes a value. Refuses what JSON cannot carry faithfully (undefined, functions, bigint, cycles). */
export function encodeValue(value: unknown): Buffer {
  if (value === undefined) throw new WireEncodeError('Cannot encode undefined as a queue record value');
  let json: string;
  try {
    json = JSON.stringify({ v: WIRE_VERSION, value });
  } catch (e) {
    throw new WireEncodeError(`Queue record value is not JSON-serialisable: ${(e as Error).message}`, { cause: e });
  }
  return Buffer.from(json, 'utf8');
}

/** Decodes bytes written by encodeValue. Throws WireDecodeError saying what is wrong. */
export function decodeValue(bytes: Buffer | Uint8Array | string | null | undefined): unknown {
  if (bytes === null || bytes === undefined) throw new WireDecodeError('Record has no value (null or tombstone)');
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  if (size > MAX_WIRE_BYTES) throw new WireDecodeError(`Record value of ${size} bytes exceeds ${MAX_WIRE_BYTES}`);
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new WireDecodeError(`Record value is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new WireDecodeError('Record value is not a Rivulet envelope ({"v":1,"value":...})');
  }
  const env = parsed as Record<string, unknown>;
  if (!('v' in env)) throw new WireDecodeError('Record value has no envelope version "v" (expected {"v":1,"value":...})');
  if (env.v !== WIRE_VERSION) {
    throw new WireDecodeError(`Unknown envelope version ${JSON.stringify(env.v)}; this reader understands v${WIRE_VERSION}`);
  }
  if (!('value' in env)) throw new WireDecodeError('Envelope v1 has no "value"');
  return env.value;
}
