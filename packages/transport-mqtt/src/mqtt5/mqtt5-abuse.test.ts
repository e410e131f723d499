import { connect as rawConnect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { testRateLimiter } from '@rivulet/testing';
import { DEVICE, TOKEN, closeAll, startTransport, waitForConsumed, type Harness } from '../test-harness';

afterEach(closeAll);

const V5 = { protocolVersion: 5 } as const;
const connectBytes = (): Buffer =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'abuse', username: TOKEN } as Packet, V5);
const publishBytes = (qos: 0 | 1, payload: string, messageId?: number): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic: 'v1/devices/me/telemetry', payload, qos, retain: false, dup: false, ...(qos === 1 ? { messageId } : {}) } as Packet, V5);

/** A raw socket to the transport: the packets it received, and a promise of its close. */
function raw(h: Harness): { s: Socket; packets: Packet[]; closed: Promise<void>; next(cmd: string): Promise<Packet> } {
  const s = rawConnect(h.port, '127.0.0.1');
  const parser = mqttPacket.parser(V5);
  const packets: Packet[] = [];
  const waiters: Array<() => void> = [];
  parser.on('packet', (p: Packet) => {
    packets.push(p);
    for (const w of waiters.splice(0)) w();
  });
  s.on('data', (b: Buffer) => parser.parse(b));
  s.on('error', () => {});
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
  const next = async (cmd: string): Promise<Packet> => {
    for (;;) {
      const found = packets.find((p) => p.cmd === cmd);
      if (found) return found;
      if (s.destroyed) throw new Error(`closed before ${cmd}; got ${packets.map((p) => p.cmd).join(',')}`);
      await Promise.race([new Promise<void>((r) => waiters.push(r)), closed]);
    }
  };
  return { s, packets, closed, next };
}

describe('MQTT 5 abuse: double CONNECT, pipelining, floods', () => {
  it('a second CONNECT while the first authenticates closes the connection; no session leaks (open count back to 0)', async () => {
    const h = await startTransport();
    const c = raw(h);
    c.s.write(Buffer.concat([connectBytes(), connectBytes()]));
    await c.closed;
    await new Promise((r) => setTimeout(r, 100)); // the pending authentication finishes after the close
    expect(c.packets.filter((p) => p.cmd === 'connack' && (p as { reasonCode?: number }).reasonCode === 0)).toHaveLength(0);
    expect(h.transport.stats().connections).toBe(0);
    expect(h.transport.stats().connectionsAccepted).toBe(0);
  });

  it('a second CONNECT after CONNACK gets DISCONNECT 0x82 and the open count goes back to 0', async () => {
    const h = await startTransport();
    const c = raw(h);
    c.s.write(connectBytes());
    await c.next('connack');
    expect(h.transport.stats().connections).toBe(1);
    c.s.write(connectBytes());
    expect((await c.next('disconnect')) as { reasonCode?: number }).toMatchObject({ reasonCode: 0x82 });
    await c.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(h.transport.stats().connections).toBe(0);
  });

  it('an MQTT 5 CONNECT still authenticating counts toward maxConnections: the next one gets CONNACK 0x89', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const auth = { authenticateToken: async (t: string) => (await gate, t === TOKEN ? DEVICE : null) };
    const h = await startTransport({ auth, config: { maxConnections: 1 } });
    const first = raw(h);
    first.s.write(connectBytes());
    await new Promise((r) => setTimeout(r, 100)); // the first CONNECT is waiting for its device
    const second = raw(h);
    second.s.write(connectBytes());
    expect(await second.next('connack')).toMatchObject({ reasonCode: 0x89 });
    release();
    expect(await first.next('connack')).toMatchObject({ reasonCode: 0 });
    first.s.destroy();
  });

  it('CONNECT and PUBLISH in one write (pipelined before CONNACK): stored and PUBACKed', async () => {
    const h = await startTransport();
    const c = raw(h);
    c.s.write(Buffer.concat([connectBytes(), publishBytes(1, '{"piped":1}', 7)]));
    expect(await c.next('puback')).toMatchObject({ messageId: 7 });
    expect(c.packets[0]?.cmd).toBe('connack');
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ piped: 1 });
    expect(c.s.destroyed).toBe(false);
    c.s.destroy();
  });

  it('a QoS 0 flood over the rate limit gets DISCONNECT 0x96 (message rate too high)', async () => {
    const h = await startTransport({ rateLimiter: testRateLimiter(1, 0), config: { rateLimitMaxWaitMs: 50 } });
    const c = raw(h);
    c.s.write(connectBytes());
    await c.next('connack');
    c.s.write(Buffer.concat(Array.from({ length: 200 }, (_, i) => publishBytes(0, `{"n":${i}}`))));
    expect((await c.next('disconnect')) as { reasonCode?: number }).toMatchObject({ reasonCode: 0x96 });
    await c.closed;
    expect(h.transport.stats().rateLimitRefused).toBeGreaterThanOrEqual(10);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.transport.stats().connections).toBe(0);
  });

  it('QoS 0 publishes held by the rate limit count toward the read pause: a flood is not read ahead without bound', async () => {
    // 1 message/s, held up to 1000 s: every publish after the first waits, none is refused
    const h = await startTransport({ rateLimiter: testRateLimiter(1, 0), config: { rateLimitMaxWaitMs: 1_000_000 } });
    const c = raw(h);
    c.s.write(connectBytes());
    await c.next('connack');
    const body = JSON.stringify({ pad: 'x'.repeat(1000) });
    for (let i = 0; i < 10; i++) {
      c.s.write(Buffer.concat(Array.from({ length: 100 }, () => publishBytes(0, body))));
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    // 1000 publishes (~1 MB) sent; the server stops reading at 64 in flight (plus what one read chunk held)
    const held = h.transport.stats().throttled;
    expect(held).toBeGreaterThan(10);
    expect(held).toBeLessThan(200);
    c.s.destroy();
  });
});
