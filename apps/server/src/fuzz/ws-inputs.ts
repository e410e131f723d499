/**
 * WebSocket inputs for the fuzzer: commands in ThingsBoard's shapes (`{authCmd, cmds}` and the older
 * `{tsSubCmds, attrSubCmds, historyCmds}`) with random fields, random JSON and text, binary frames;
 * and raw RFC 6455 frames for a hand-made connection (reserved opcodes, RSV bits, unmasked frames,
 * lengths that lie, fragmented or oversized control frames, invalid UTF-8, bad close codes).
 */
import { mutateBytes, randomJson, type Rng } from '@rivulet/testing';

function entityId(rng: Rng, deviceId: string): unknown {
  return rng.pick([deviceId, deviceId, globalThis.crypto.randomUUID(), '', 'not-a-uuid', 42, null, deviceId.toUpperCase(), `${deviceId}x`]);
}

function command(rng: Rng, deviceId: string): Record<string, unknown> {
  const c: Record<string, unknown> = {
    cmdId: rng.pick([rng.int(0, 100), -1, 2 ** 31, 1.5, '1', null]),
    entityType: rng.pick(['DEVICE', 'DEVICE', 'ASSET', 'TENANT', '', 'device']),
    entityId: entityId(rng, deviceId),
  };
  if (rng.chance(0.7)) c.keys = rng.pick(['temperature', 'a,b,,c', '', ' , ', ['x', 'y'], [1, 2], rng.string(rng.length(300))]);
  if (rng.chance(0.3)) c.scope = rng.pick(['LATEST_TELEMETRY', 'CLIENT_SCOPE', 'SERVER_SCOPE', 'SHARED_SCOPE', 'x']);
  if (rng.chance(0.2)) c.unsubscribe = rng.chance(0.7);
  if (rng.chance(0.3)) {
    c.startTs = rng.pick([0, -1, Date.now() - 3_600_000, 2 ** 53, 1.5]);
    c.endTs = rng.pick([Date.now(), 0, 2 ** 53]);
    c.interval = rng.pick([0, 1, 1000, -5, 2 ** 40]);
    c.limit = rng.pick([1, 100, 0, -1, 1e9]);
    c.agg = rng.pick(['NONE', 'AVG', 'MIN', 'MAX', 'SUM', 'COUNT', 'x']);
  }
  if (rng.chance(0.1)) Object.assign(c, randomJson(rng, 1) as object);
  return c;
}

/** One text or binary message for an authenticated (or not) session. */
export function wsMessage(rng: Rng, deviceId: string, jwt: string): { data: string | Buffer; binary: boolean } {
  const r = rng.int(0, 9);
  if (r <= 4) {
    const frame: Record<string, unknown> = {};
    if (rng.chance(0.15)) frame.authCmd = { cmdId: rng.int(0, 9), token: rng.chance(0.5) ? jwt : rng.string(rng.length(200)) };
    if (rng.chance(0.7)) frame.cmds = Array.from({ length: rng.int(0, 4) }, () => ({ type: rng.pick(['TIMESERIES', 'ATTRIBUTES', 'TIMESERIES_HISTORY', 'ENTITY_DATA', '', 'x']), ...command(rng, deviceId) }));
    if (rng.chance(0.3)) frame.tsSubCmds = Array.from({ length: rng.int(0, 3) }, () => command(rng, deviceId));
    if (rng.chance(0.3)) frame.attrSubCmds = Array.from({ length: rng.int(0, 3) }, () => command(rng, deviceId));
    if (rng.chance(0.3)) frame.historyCmds = Array.from({ length: rng.int(0, 3) }, () => command(rng, deviceId));
    if (rng.chance(0.1)) frame.cmds = rng.pick([{}, 'x', 1, null]);
    return { data: JSON.stringify(frame), binary: false };
  }
  if (r <= 6) return { data: JSON.stringify(randomJson(rng, 4)) ?? 'null', binary: false };
  if (r === 7) return { data: rng.string(rng.length(2000)), binary: false };
  if (r === 8) return { data: rng.bytes(rng.length(2000)), binary: true };
  return { data: '['.repeat(rng.int(100, 60_000)), binary: false };
}

/** A client frame by hand (RFC 6455 5.2); masked unless the case says otherwise. */
function frame(rng: Rng, opts: { fin: boolean; rsv: number; opcode: number; masked: boolean; payload: Buffer; lieLength?: boolean }): Buffer {
  const { payload } = opts;
  const head = [((opts.fin ? 1 : 0) << 7) | (opts.rsv << 4) | opts.opcode];
  const len = opts.lieLength ? rng.pick([payload.length + rng.int(1, 100), 126, 127, 0]) : payload.length;
  const maskBit = opts.masked ? 0x80 : 0;
  let ext: number[] = [];
  if (opts.lieLength && rng.chance(0.3)) ext = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]; // 64-bit length with the top bit set
  else if (len < 126) head.push(maskBit | len);
  else if (len < 65536) ext = [len >> 8, len & 0xff];
  else ext = [0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff];
  if (ext.length > 0) head.push(maskBit | (ext.length === 2 ? 126 : 127), ...ext);
  if (!opts.masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = rng.bytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ (key[i % 4] as number)));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** Raw frames for one hand-made connection, after the opening handshake. */
export function rawWsFrames(rng: Rng, deviceId: string, jwt: string): Buffer[] {
  const out: Buffer[] = [];
  // often authenticated first, so the frames after it reach a session's command handling
  if (rng.chance(0.6)) out.push(frame(rng, { fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.from(JSON.stringify({ authCmd: { cmdId: 0, token: jwt } })) }));
  for (let n = rng.int(1, 5); n > 0; n--) {
    const m = wsMessage(rng, deviceId, jwt);
    const payload = typeof m.data === 'string' ? Buffer.from(m.data) : m.data;
    switch (rng.int(0, 9)) {
      case 0: // reserved opcodes
        out.push(frame(rng, { fin: true, rsv: 0, opcode: rng.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), masked: true, payload }));
        break;
      case 1: // RSV bits without an extension
        out.push(frame(rng, { fin: true, rsv: rng.int(1, 7), opcode: 1, masked: true, payload }));
        break;
      case 2: // unmasked client frame
        out.push(frame(rng, { fin: true, rsv: 0, opcode: 1, masked: false, payload }));
        break;
      case 3: // a length that lies
        out.push(frame(rng, { fin: true, rsv: 0, opcode: rng.pick([1, 2]), masked: true, payload, lieLength: true }));
        break;
      case 4: // control frames fragmented or over 125 bytes; close with odd codes and reasons
        out.push(
          frame(rng, {
            fin: rng.chance(0.5),
            rsv: 0,
            opcode: rng.pick([8, 9, 10]),
            masked: true,
            payload: rng.pick([Buffer.alloc(rng.int(126, 300)), Buffer.from([rng.int(0, 255), rng.int(0, 255), 0xc3, 0x28]), Buffer.from([0x03, 0xe8]), Buffer.from([0x0b, 0xb8]), Buffer.from([0])]),
          }),
        );
        break;
      case 5: // fragments: continuation without a start, a start never finished, text split inside a UTF-8 sequence
        out.push(frame(rng, { fin: rng.chance(0.5), rsv: 0, opcode: rng.pick([0, 1, 2]), masked: true, payload: Buffer.from([0xe2, 0x82]) }), frame(rng, { fin: true, rsv: 0, opcode: rng.pick([0, 1]), masked: true, payload: Buffer.from([0xac, 0xff]) }));
        break;
      case 6: // invalid UTF-8 in a text frame
        out.push(frame(rng, { fin: true, rsv: 0, opcode: 1, masked: true, payload: Buffer.concat([payload.subarray(0, 20), Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80])]) }));
        break;
      case 7: // a valid frame, mutated
        out.push(mutateBytes(rng, frame(rng, { fin: true, rsv: 0, opcode: m.binary ? 2 : 1, masked: true, payload })));
        break;
      default: // valid
        out.push(frame(rng, { fin: true, rsv: 0, opcode: m.binary ? 2 : 1, masked: true, payload }));
    }
  }
  return out;
}
