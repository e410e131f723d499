import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TOKEN, closeAll, startTransport } from './test-harness';

afterEach(closeAll);

/**
 * Raw packets over TCP: mqtt.js refuses to send these topics, so the bytes are built by hand
 * (MQTT 3.1.1 section 2: fixed header, Remaining Length, then the variable header and payload).
 */
function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function str(bytes: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function connectPacket(token: string, clientId: Buffer = Buffer.from('raw-client')): Buffer {
  // protocol "MQTT" level 4, flags: user name + clean session, keep alive 60
  const body = Buffer.concat([str(Buffer.from('MQTT')), Buffer.from([0x04, 0x82, 0x00, 0x3c]), str(clientId), str(Buffer.from(token))]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** PUBLISH QoS 1, packet id 1, with the topic's bytes exactly as given. */
function publishPacket(topic: Buffer, payload: string): Buffer {
  const body = Buffer.concat([str(topic), Buffer.from([0x00, 0x01]), Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x32]), remainingLength(body.length), body]);
}

function raw(port: number): { s: Socket; state: { closed: boolean; data: Buffer } } {
  const s = connect(port, '127.0.0.1');
  const state = { closed: false, data: Buffer.alloc(0) };
  s.on('data', (d: Buffer) => (state.data = Buffer.concat([state.data, d])));
  s.on('close', () => (state.closed = true));
  s.on('error', () => {});
  return { s, state };
}

const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const PUBACK_1 = Buffer.from([0x40, 0x02, 0x00, 0x01]);
const telemetry = Buffer.from('v1/devices/me/telemetry');

describe('PUBLISH topic names per MQTT 3.1.1 (1.5.3, 4.7.3): the connection closes without PUBACK', () => {
  it.each([
    // 0xff never appears in UTF-8 [MQTT-1.5.3-1]
    ['invalid UTF-8 (0xff)', Buffer.concat([telemetry, Buffer.from([0xff])])],
    // an overlong encoding of "/" (0xc0 0xaf) is ill-formed UTF-8 [MQTT-1.5.3-1]
    ['an overlong UTF-8 sequence', Buffer.concat([Buffer.from('v1/devices/me'), Buffer.from([0xc0, 0xaf]), Buffer.from('telemetry')])],
    // an encoded UTF-16 surrogate (U+D800) [MQTT-1.5.3-1]
    ['a UTF-16 surrogate', Buffer.concat([telemetry, Buffer.from([0xed, 0xa0, 0x80])])],
    // U+0000 [MQTT-1.5.3-2]
    ['the NUL character', Buffer.concat([telemetry, Buffer.from([0x00])])],
    // wildcards in a topic name [MQTT-3.3.2-2] (4.7.3)
    ['the wildcard +', Buffer.from('v1/devices/+/telemetry')],
    ['the wildcard #', Buffer.from('v1/devices/me/#')],
  ])('%s', async (_what, topic) => {
    const h = await startTransport();
    const { s, state } = raw(h.port);
    s.write(connectPacket(TOKEN));
    await vi.waitFor(() => expect(state.data.subarray(0, 4)).toEqual(CONNACK_OK));
    s.write(publishPacket(topic, '{"temperature":25}'));
    await vi.waitFor(() => expect(state.closed).toBe(true), { timeout: 3000 });
    expect(state.data.includes(PUBACK_1)).toBe(false);
    expect(h.consumed).toEqual([]);
    expect(h.transport.stats().rejected.invalidTopic).toBe(1);
    const warned = h.logs.filter((l) => l.msg === 'mqtt device input refused' && l.level === 'warn');
    expect(warned).toHaveLength(1);
  });

  it('a valid topic with multi-byte characters is accepted as before (the check is not a byte filter)', async () => {
    const h = await startTransport();
    const { s, state } = raw(h.port);
    s.write(connectPacket(TOKEN));
    await vi.waitFor(() => expect(state.data.subarray(0, 4)).toEqual(CONNACK_OK));
    // "v1/devices/me/telemetry" itself, then an unknown topic with ü and a 4-byte emoji (acknowledged and ignored)
    s.write(publishPacket(telemetry, '{"temperature":25}'));
    s.write(publishPacket(Buffer.from('sensors/müll/😀'), '{}'));
    await vi.waitFor(() => expect(state.data.length).toBeGreaterThanOrEqual(12));
    expect(state.closed).toBe(false);
    expect(h.transport.stats().rejected.invalidTopic).toBe(0);
    s.destroy();
  });

  it('a CONNECT whose client id holds invalid UTF-8 is refused before authentication (no CONNACK 0)', async () => {
    const h = await startTransport();
    const { s, state } = raw(h.port);
    s.write(connectPacket(TOKEN, Buffer.from([0x61, 0xff, 0x62])));
    await vi.waitFor(() => expect(state.closed).toBe(true), { timeout: 3000 });
    expect(state.data.includes(CONNACK_OK)).toBe(false);
    expect(h.transport.stats().connectionsAccepted).toBe(0);
  });
});
