import { silentLogger } from '@rivulet/core';
import { startCountingListener, type CountingListener } from '@rivulet/testing';
import { Aedes } from 'aedes';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectChecked } from './connect';
import { parseBrokers } from './kafka';
import { createOutbound } from './outbound';
import { createOutboundPolicy } from './policy';

const get = (url: string, extra: Partial<Parameters<ReturnType<typeof createOutbound>['http']>[0]> = {}) => ({ method: 'GET', url, headers: {}, timeoutMs: 2000, maxResponseBytes: 1 << 20, ...extra });

describe('checked HTTP (real listeners on loopback)', () => {
  let target: CountingListener;
  let hop: CountingListener;
  beforeAll(async () => {
    target = await startCountingListener({ host: '127.0.0.1', body: '{"secret":1}' });
    // 127.0.0.2: a second loopback address, allow-listed on its own (Linux routes 127/8 to lo).
    hop = await startCountingListener({
      host: '127.0.0.2',
      handler: (req, res) => {
        const u = new URL(req.url ?? '/', 'http://x');
        if (u.pathname === '/to') res.writeHead(Number(u.searchParams.get('status') ?? 302), { location: u.searchParams.get('location') ?? '/' }).end();
        else if (u.pathname === '/loop') res.writeHead(302, { location: '/loop' }).end();
        else if (u.pathname === '/big') res.writeHead(200).end('x'.repeat(5000));
        else if (u.pathname === '/slow') setTimeout(() => res.writeHead(200).end('late'), 400);
        else res.writeHead(200, { 'x-seen': req.method ?? '' }).end(JSON.stringify({ method: req.method, auth: req.headers.authorization ?? null }));
      },
    });
  });
  afterAll(async () => {
    await target.close();
    await hop.close();
  });

  it('with the default policy no spelling of loopback connects', async () => {
    const out = createOutbound({ logger: silentLogger });
    const p = target.port;
    for (const url of [`http://127.0.0.1:${p}/`, `http://0.0.0.0:${p}/`, `http://2130706433:${p}/`, `http://0x7f000001:${p}/`, `http://0177.0.0.01:${p}/`, `http://127.1:${p}/`, `http://[::ffff:127.0.0.1]:${p}/`, `http://[::ffff:7f00:1]:${p}/`, `http://localhost:${p}/`, `http://LocalHost:${p}/`, `https://127.0.0.1:${p}/`]) {
      await expect(out.http(get(url)), url).rejects.toThrow(/^outbound call to .*denied by RIVULET_OUTBOUND_\* policy/);
    }
    expect(target.connections()).toBe(0);
  });

  it('checks every redirect hop: an allowed server cannot send the call to a denied one', async () => {
    const out = createOutbound({ logger: silentLogger, allow: ['127.0.0.2/32'] });
    const before = hop.requests.length;
    for (const location of [`http://127.0.0.1:${target.port}/x`, `http://localhost:${target.port}/x`, `http://2130706433:${target.port}/x`, `http://[::1]:${target.port}/x`]) {
      const url = `http://127.0.0.2:${hop.port}/to?location=${encodeURIComponent(location)}`;
      await expect(out.http(get(url))).rejects.toThrow(/^outbound call to .*denied by RIVULET_OUTBOUND_\* policy/);
    }
    expect(hop.requests.length - before).toBe(4);
    expect(target.connections()).toBe(0);
  });

  it('follows allowed redirects as fetch does (303 becomes GET, credentials stay on their origin) up to the hop limit', async () => {
    const out = createOutbound({ logger: silentLogger, allow: ['127.0.0.2/32', 'localhost'] });
    const same = await out.http({ ...get(`http://127.0.0.2:${hop.port}/to?status=303&location=/echo`), method: 'POST', body: '{"a":1}', headers: { authorization: 'Bearer t', 'content-type': 'application/json' } });
    expect(same).toMatchObject({ status: 200, url: `http://127.0.0.2:${hop.port}/echo` });
    expect(JSON.parse(same.body)).toEqual({ method: 'GET', auth: 'Bearer t' });
    // To another origin (allowed by name): Authorization is dropped; 307 keeps the method and body.
    const other = await out.http({ ...get(`http://127.0.0.2:${hop.port}/to?status=307&location=${encodeURIComponent(`http://localhost:${target.port}/echo`)}`), method: 'PUT', body: 'x', headers: { Authorization: 'Bearer t' } });
    expect(other).toMatchObject({ status: 200, body: '{"secret":1}' });
    expect(target.requests.at(-1)).toMatchObject({ method: 'PUT', url: '/echo', body: 'x' });
    expect(target.requests.at(-1)!.headers.authorization).toBeUndefined();
    await expect(out.http(get(`http://127.0.0.2:${hop.port}/loop`, { maxRedirects: 3 }))).rejects.toThrow(/More than 3 redirects/);
    await expect(out.http(get(`http://127.0.0.2:${hop.port}/to?location=${encodeURIComponent('file:///etc/passwd')}`))).rejects.toThrow(/Unsupported URL scheme file:/);
  });

  it('keeps checked connections alive and reuses them', async () => {
    const out = createOutbound({ logger: silentLogger, allow: ['127.0.0.2'] });
    try {
      const before = hop.connections();
      for (let i = 0; i < 5; i++) expect((await out.http(get(`http://127.0.0.2:${hop.port}/echo`))).status).toBe(200);
      expect(hop.connections() - before).toBe(1);
    } finally {
      out.close();
    }
  });

  it('limits the body and the time', async () => {
    const out = createOutbound({ logger: silentLogger, allow: ['127.0.0.2'] });
    await expect(out.http(get(`http://127.0.0.2:${hop.port}/big`, { maxResponseBytes: 1024 }))).rejects.toThrow(/larger than 1 KB/);
    await expect(out.http(get(`http://127.0.0.2:${hop.port}/slow`, { timeoutMs: 100 }))).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('https goes through the checked connection too (TLS handshake with the allowed peer)', async () => {
    // A self-signed certificate the test makes: the handshake happens and the client refuses it.
    const dir = mkdtempSync(join(tmpdir(), 'outbound-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.2', '-addext', 'subjectAltName=IP:127.0.0.2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      let handshakes = 0;
      const tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
      tls.on('connection', () => handshakes++);
      await new Promise<void>((r) => tls.listen(0, '127.0.0.2', r));
      const port = (tls.address() as AddressInfo).port;
      try {
        await expect(createOutbound({ logger: silentLogger, allow: ['127.0.0.2'] }).http(get(`https://127.0.0.2:${port}/`))).rejects.toThrow(/self[- ]signed certificate/);
        expect(handshakes).toBe(1);
        await expect(createOutbound({ logger: silentLogger }).http(get(`https://127.0.0.2:${port}/`))).rejects.toThrow(/denied by RIVULET_OUTBOUND_\* policy/);
        expect(handshakes).toBe(1);
      } finally {
        await new Promise<void>((r) => tls.close(() => r()));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a socket asked for a denied name fails in its lookup and never connects', async () => {
    const before = target.connections();
    const socket = connectChecked(createOutboundPolicy(), { host: 'localhost', port: target.port });
    const err = await new Promise<Error>((resolve) => socket.once('error', resolve));
    expect(err.message).toMatch(/^outbound call to localhost \(.*\) denied/);
    expect(target.connections()).toBe(before);
  });
});

describe('checked MQTT (a real aedes broker on loopback)', () => {
  let broker: Aedes;
  let server: NetServer;
  let port = 0;
  let connections = 0;
  const received: string[] = [];
  beforeAll(async () => {
    broker = await Aedes.createBroker();
    broker.on('publish', (packet, client) => {
      if (client) received.push(`${packet.topic} ${packet.payload.toString()}`);
    });
    server = createNetServer(broker.handle as never);
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });
  const options = (host: string) => ({ host, port, ssl: false, protocolVersion: 4 as const, clientId: 'c1', clean: true, connectTimeoutMs: 1000 });

  it('a denied broker fails the publish at once and is never connected to', async () => {
    const started = Date.now();
    for (const host of ['127.0.0.1', 'localhost', '::ffff:127.0.0.1', '2130706433']) {
      const c = createOutbound({ logger: silentLogger }).mqtt(options(host));
      await expect(c.publish('t', 'x', { qos: 1, retain: false }), host).rejects.toThrow(/denied by RIVULET_OUTBOUND_\* policy/);
      await c.close();
    }
    expect(Date.now() - started).toBeLessThan(1000);
    expect(connections).toBe(0);
  });

  it('an allow-listed broker gets the publish', async () => {
    const c = createOutbound({ logger: silentLogger, allow: ['127.0.0.1/32'] }).mqtt(options('127.0.0.1'));
    try {
      await c.publish('plant/1', '{"t":1}', { qos: 1, retain: false });
      expect(received).toEqual(['plant/1 {"t":1}']);
      expect(connections).toBe(1);
    } finally {
      await c.close();
    }
  });
});

describe('Kafka producer guard', () => {
  it('parses bootstrap servers', () => {
    expect(parseBrokers('a:9093, 10.0.0.1 ,[::1]:9094,fd00::1')).toEqual([
      { host: 'a', port: 9093 },
      { host: '10.0.0.1', port: 9092 },
      { host: '::1', port: 9094 },
      { host: 'fd00::1', port: 9092 },
    ]);
  });
});
