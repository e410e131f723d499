import { createServer, type AddressInfo, type Server } from 'node:net';
import * as coap from 'coap';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoapClient } from './coap-client';
import { createMqttClient } from './mqtt-client';
import type { DeviceConnection } from './types';

const send = (c: DeviceConnection, payload: string) => new Promise<void>((res, rej) => c.send('telemetry', payload, (e) => (e ? rej(e) : res())));

describe('MQTT client against a bare aedes broker', () => {
  let broker: Aedes;
  let server: Server;
  let port: number;
  const seen: Array<{ clientId: string; username: string | undefined; topic: string; payload: string; qos: number }> = [];
  const users = new Map<string, string | undefined>();

  beforeAll(async () => {
    broker = new Aedes({
      authenticate: (client, username, _password, done) => {
        if (username === 'bad') return done(Object.assign(new Error('not authorized'), { returnCode: 5 }) as never, false);
        users.set(client.id, username);
        done(null, true);
      },
    });
    await broker.listen();
    broker.on('publish', (packet, client) => {
      if (client) seen.push({ clientId: client.id, username: users.get(client.id), topic: packet.topic, payload: packet.payload.toString(), qos: packet.qos });
    });
    server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('connects with the token as username, publishes QoS 1 on ThingsBoard topics, expands templates', async () => {
    const client = createMqttClient({ url: `mqtt://127.0.0.1:${port}` });
    const c = await client.connect({ name: 'dev-1', token: 'tok-1' });
    await send(c, '{"t":1}');
    const custom = createMqttClient({ url: `mqtt://127.0.0.1:${port}`, telemetryTopic: 'site/{id}/telemetry', qos: 0, username: 'u-{name}' });
    const c2 = await custom.connect({ name: 'dev-2', token: 'tok-2', id: 'abc' });
    await send(c2, '{"t":2}');
    await c.close();
    await client.close();
    await custom.close();
    expect(seen).toEqual(
      expect.arrayContaining([
        { clientId: 'dev-1', username: 'tok-1', topic: 'v1/devices/me/telemetry', payload: '{"t":1}', qos: 1 },
        { clientId: 'dev-2', username: 'u-dev-2', topic: 'site/abc/telemetry', payload: '{"t":2}', qos: 0 },
      ]),
    );
  });

  it('a refused CONNECT rejects the connect, without retrying', async () => {
    const client = createMqttClient({ url: `mqtt://127.0.0.1:${port}`, username: 'bad' });
    await expect(client.connect({ name: 'dev-x', token: 'x' })).rejects.toThrow(/MQTT connect failed/);
    await client.close();
  });
});

describe('CoAP client against a bare coap server', () => {
  it('confirmable POST to /api/v1/{token}/telemetry; 2.01 is success, 4.01 an error', async () => {
    const got: Array<{ url: string; payload: string }> = [];
    const server = coap.createServer((req, res) => {
      got.push({ url: req.url, payload: req.payload.toString() });
      res.code = req.url.includes('/good/') ? '2.01' : '4.01';
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = ((server as unknown as { _sock: { address(): AddressInfo } })._sock.address()).port;
    const client = createCoapClient({ url: `coap://127.0.0.1:${port}` });
    try {
      const good = await client.connect({ name: 'g', token: 'good' });
      const bad = await client.connect({ name: 'b', token: 'bad' });
      await send(good, '{"t":1}');
      await expect(send(bad, '{"t":2}')).rejects.toMatchObject({ code: 'COAP_4.01' });
      expect(got).toEqual([
        { url: '/api/v1/good/telemetry', payload: '{"t":1}' },
        { url: '/api/v1/bad/telemetry', payload: '{"t":2}' },
      ]);
    } finally {
      await client.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
