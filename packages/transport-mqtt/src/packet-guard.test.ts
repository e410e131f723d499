import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TOKEN, closeAll, startTransport } from './test-harness';

afterEach(closeAll);

/** A raw socket that records whether the server closed it. */
function raw(port: number) {
  const s = connect(port, '127.0.0.1');
  const state = { closed: false, data: Buffer.alloc(0) };
  s.on('data', (d: Buffer) => (state.data = Buffer.concat([state.data, d])));
  s.on('close', () => (state.closed = true));
  s.on('error', () => {});
  return { s, state };
}

describe('packet guard (mqtt-packet parser inside aedes)', () => {
  it('closes a connection as soon as a fixed header declares a packet over the limit, before its body', async () => {
    const h = await startTransport({ config: { maxPayloadBytes: 1000 } });
    const { s, state } = raw(h.port);
    // CONNECT declaring 10 MB, and not one byte of it sent
    s.write(Buffer.from([0x10, 0x80, 0xad, 0xe2, 0x04]));
    await vi.waitFor(() => expect(state.closed).toBe(true), { timeout: 3000 });
    expect(h.transport.stats().rejected.payloadTooLarge).toBe(1);
  });

  it('grants QoS 2 subscriptions as QoS 1 in the SUBACK', async () => {
    const h = await startTransport();
    const { s, state } = raw(h.port);
    const token = Buffer.from(TOKEN);
    // CONNECT 3.1.1, clean session, user name flag, client id "x"
    const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x82, 0x00, 0x3c, 0x00, 0x01, 0x78, 0x00, token.length]);
    const connectBody = Buffer.concat([variable, token]);
    s.write(Buffer.concat([Buffer.from([0x10, connectBody.length]), connectBody]));
    await vi.waitFor(() => expect(state.data.subarray(0, 4)).toEqual(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    // SUBSCRIBE id 1: v1/devices/me/attributes at QoS 2
    const topic = Buffer.from('v1/devices/me/attributes');
    const subBody = Buffer.concat([Buffer.from([0x00, 0x01, 0x00, topic.length]), topic, Buffer.from([0x02])]);
    s.write(Buffer.concat([Buffer.from([0x82, subBody.length]), subBody]));
    await vi.waitFor(() => expect(state.data.length).toBeGreaterThanOrEqual(9));
    expect(state.data.subarray(4, 9)).toEqual(Buffer.from([0x90, 0x03, 0x00, 0x01, 0x01]));
    s.destroy();
  });
});
