import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { connectAsync } from 'mqtt';
import { createTestDatabase, freePort, makeTestCertificates, type TestCertificates } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Rivulet } from './app';
import { loadTlsMaterial, reportTlsMaterial } from './tls';
import { ADMIN, api, createDevice, eventually, login, startTestServer, tempDir } from './test-helpers';

/**
 * Issue #12, transport security: with RIVULET_TLS_CERT / RIVULET_TLS_KEY set, MQTT over TLS and
 * HTTPS (device API, REST API, WebSocket) serve real clients (mosquitto_pub, curl, mqtt.js, ws) that
 * trust only a throwaway CA this test makes with the openssl CLI. Clients that do not trust it, and
 * plain text on the TLS ports, get nothing stored. A certificate that does not load refuses start.
 */
const execFileP = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a client; never throws on a non-zero exit (the failures are what some tests look at). */
async function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TLS: MQTT over TLS and HTTPS with real clients', () => {
  const dir = tempDir('rivulet-tls-');
  let certs: TestCertificates;
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  let httpsBase: string;

  beforeAll(async () => {
    certs = await makeTestCertificates(dir.dir);
    db = await createTestDatabase('tls');
    app = await startTestServer({
      DATABASE_URL: db.url,
      RIVULET_DATA_DIR: join(dir.dir, 'data'),
      RIVULET_TLS_CERT: certs.serverCert,
      RIVULET_TLS_KEY: certs.serverKey,
      RIVULET_MQTT_TLS_PORT: '0',
      RIVULET_HTTPS_PORT: '0',
    });
    jwt = await login(app.url);
    httpsBase = `https://localhost:${app.httpsPort}`;
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  async function latest(deviceId: string, key: string): Promise<string | undefined> {
    const r = await api<Record<string, Array<{ value: unknown }>>>(app.url, jwt, `/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?keys=${key}`);
    const v = r.body[key]?.[0]?.value;
    return v === undefined ? undefined : String(v);
  }

  it('listens on its own ports beside the plain ones', () => {
    expect(app.mqttTlsPort).toBeGreaterThan(0);
    expect(app.httpsPort).toBeGreaterThan(0);
    expect(app.mqttTlsPort).not.toBe(app.mqttPort);
    expect(app.httpsPort).not.toBe(app.port);
    expect(app.httpsUrl).toBe(`https://127.0.0.1:${app.httpsPort}`);
  });

  it('mosquitto_pub --cafile ca.pem on the MQTT TLS port: the point is stored', async () => {
    const d = await createDevice(app.url, jwt, 'tls-mqtt');
    const r = await run('mosquitto_pub', ['--cafile', certs.caCert, '-h', 'localhost', '-p', String(app.mqttTlsPort), '-u', d.token, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', '{"t":1}']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(await eventually(() => latest(d.id, 't'))).toBe('1');
  });

  it('mosquitto_pub by IP address (SAN IP:127.0.0.1) and with a wrong token: stored, then refused', async () => {
    const d = await createDevice(app.url, jwt, 'tls-mqtt-ip');
    const ok = await run('mosquitto_pub', ['--cafile', certs.caCert, '-h', '127.0.0.1', '-p', String(app.mqttTlsPort), '-u', d.token, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', '{"ip":7}']);
    expect(ok.code).toBe(0);
    expect(await eventually(() => latest(d.id, 'ip'))).toBe('7');
    // TLS does not replace the token: a wrong one is still CONNACK 5 (not authorized)
    const bad = await run('mosquitto_pub', ['--cafile', certs.caCert, '-h', 'localhost', '-p', String(app.mqttTlsPort), '-u', 'no-such-token', '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', '{"ip":8}']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/not authori[sz]ed/i);
  });

  it('curl --cacert ca.pem to the device HTTP API over HTTPS: the point is stored', async () => {
    const d = await createDevice(app.url, jwt, 'tls-http');
    const r = await run('curl', ['-sS', '--fail-with-body', '--cacert', certs.caCert, '-H', 'Content-Type: application/json', '-d', '{"h":2}', `${httpsBase}/api/v1/${d.token}/telemetry`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(await eventually(() => latest(d.id, 'h'))).toBe('2');
  });

  it('curl --cacert ca.pem to the REST API over HTTPS: login, then an authenticated call', async () => {
    const r = await run('curl', ['-sS', '--fail-with-body', '--cacert', certs.caCert, '-H', 'Content-Type: application/json', '-d', JSON.stringify(ADMIN), `${httpsBase}/api/auth/login`]);
    expect(r.code).toBe(0);
    const token = (JSON.parse(r.stdout) as { token: string }).token;
    expect(token).toMatch(/^ey/);
    const user = await run('curl', ['-sS', '--fail-with-body', '--cacert', certs.caCert, '-H', `X-Authorization: Bearer ${token}`, `${httpsBase}/api/auth/user`]);
    expect(user.code).toBe(0);
    expect(JSON.parse(user.stdout)).toMatchObject({ email: ADMIN.username });
  });

  it('wss:// /api/ws: a telemetry subscription over TLS sees a point posted over HTTPS', async () => {
    const d = await createDevice(app.url, jwt, 'tls-ws');
    const ws = new WebSocket(`wss://localhost:${app.httpsPort}/api/ws`, { ca: readFileSync(certs.caCert) });
    const messages: Array<{ cmdId?: number; subscriptionId?: number; data?: Record<string, unknown[]> }> = [];
    ws.on('message', (m) => messages.push(JSON.parse(String(m))));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: jwt } }));
      ws.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId: 11, entityType: 'DEVICE', entityId: d.id, scope: 'LATEST_TELEMETRY', keys: 'w' }] }));
      await eventually(async () => messages.some((m) => (m.cmdId ?? m.subscriptionId) === 11));
      const r = await fetch(`${app.url}/api/v1/${d.token}/telemetry`, { method: 'POST', body: '{"w":5}' });
      expect(r.status).toBe(200);
      const update = await eventually(async () => messages.find((m) => (m.cmdId ?? m.subscriptionId) === 11 && (m.data?.w?.length ?? 0) > 0));
      expect(JSON.stringify(update.data?.w)).toContain('"5"');
    } finally {
      ws.close();
    }
  });

  it('MQTT over wss:// /mqtt on the HTTPS port (mqtt.js with the CA): the point is stored', async () => {
    const d = await createDevice(app.url, jwt, 'tls-mqtt-wss');
    const c = await connectAsync(`wss://localhost:${app.httpsPort}/mqtt`, { username: d.token, ca: readFileSync(certs.caCert), reconnectPeriod: 0 });
    try {
      await c.publishAsync('v1/devices/me/telemetry', '{"ws":3}', { qos: 1 });
    } finally {
      await c.endAsync();
    }
    expect(await eventually(() => latest(d.id, 'ws'))).toBe('3');
  });

  it('clients that do not trust the certificate are refused with a certificate error, and nothing is stored', async () => {
    const d = await createDevice(app.url, jwt, 'tls-untrusted');
    // mosquitto_pub with the system's CAs only
    const m = await run('mosquitto_pub', ['-d', '--capath', '/etc/ssl/certs', '-h', 'localhost', '-p', String(app.mqttTlsPort), '-u', d.token, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', '{"u":1}']);
    expect(m.code).not.toBe(0);
    // -d prints OpenSSL's reason: "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed"
    expect(`${m.stdout}${m.stderr}`).toMatch(/certificate verify failed/i);
    // curl without --cacert: exit 60, "SSL certificate problem"
    const c = await run('curl', ['-sS', '-d', '{"u":2}', `${httpsBase}/api/v1/${d.token}/telemetry`]);
    expect(c.code).toBe(60);
    expect(c.stderr).toMatch(/SSL certificate problem/);
    // trusting the CA but asking for a name the certificate does not carry
    const wrongName = await run('curl', ['-sS', '--cacert', certs.caCert, '--resolve', `rivulet.example:${app.httpsPort}:127.0.0.1`, '-d', '{"u":3}', `https://rivulet.example:${app.httpsPort}/api/v1/${d.token}/telemetry`]);
    expect(wrongName.code).toBe(60);
    expect(wrongName.stderr).toMatch(/subject(Alt)?Name|does not match|no alternative certificate subject name/i);
    await sleep(300);
    expect(await latest(d.id, 'u')).toBeUndefined();
  });

  it('plain text on the TLS ports gets nothing stored: plain MQTT CONNECT+PUBLISH, plain HTTP POST', async () => {
    const d = await createDevice(app.url, jwt, 'tls-plaintext');
    const m = await run('mosquitto_pub', ['-h', 'localhost', '-p', String(app.mqttTlsPort), '-u', d.token, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', '{"p":1}'], 15_000);
    expect(m.code).not.toBe(0);
    const c = await run('curl', ['-sS', '-d', '{"p":2}', `http://localhost:${app.httpsPort}/api/v1/${d.token}/telemetry`]);
    expect(c.code).not.toBe(0);
    expect(c.stdout).toBe('');
    // and raw bytes: an MQTT CONNECT written straight to the socket gets no CONNACK back
    const reply = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      const s = netConnect(app.mqttTlsPort!, '127.0.0.1', () => {
        const user = Buffer.from(d.token);
        const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x82, 0, 60, 0, 1, 0x78, user.length >> 8, user.length & 255]), user]);
        s.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
      });
      s.on('data', (b) => chunks.push(b));
      s.on('error', () => {});
      s.on('close', () => resolve(Buffer.concat(chunks)));
      setTimeout(() => s.destroy(), 2000);
    });
    expect(reply[0]).not.toBe(0x20); // never a CONNACK (a TLS alert at most)
    await sleep(300);
    expect(await latest(d.id, 'p')).toBeUndefined();
  });

  it('plain ports keep working beside TLS', async () => {
    const d = await createDevice(app.url, jwt, 'tls-plain-too');
    const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(app.mqttPort), '-u', d.token, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', '{"plain":4}']);
    expect(r.code).toBe(0);
    expect(await eventually(() => latest(d.id, 'plain'))).toBe('4');
  });
});

describe('MQTT over TLS with RIVULET_MQTT_TLS_CLIENT_CA: a client certificate from that CA is required', () => {
  const dir = tempDir('rivulet-mtls-');
  let certs: TestCertificates;
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;

  beforeAll(async () => {
    certs = await makeTestCertificates(dir.dir);
    db = await createTestDatabase('mtls');
    app = await startTestServer({
      DATABASE_URL: db.url,
      RIVULET_DATA_DIR: join(dir.dir, 'data'),
      RIVULET_TLS_CERT: certs.serverCert,
      RIVULET_TLS_KEY: certs.serverKey,
      RIVULET_MQTT_TLS_CLIENT_CA: certs.caCert,
      RIVULET_MQTT_TLS_PORT: '0',
      RIVULET_HTTPS_PORT: '0',
    });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  const pub = (token: string, payload: string, extra: string[] = []) =>
    run('mosquitto_pub', ['-d', '--cafile', certs.caCert, ...extra, '-h', 'localhost', '-p', String(app.mqttTlsPort), '-u', token, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', payload]);

  it('mosquitto_pub --cert client.pem --key client.key: stored; without a certificate, or with a self-signed one: refused, nothing stored', async () => {
    const d = await createDevice(app.url, jwt, 'mtls-device');
    const ok = await pub(d.token, '{"m":1}', ['--cert', certs.clientCert, '--key', certs.clientKey]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/received CONNACK \(0\)/);
    const read = async (key: string) =>
      (await api<Record<string, Array<{ value: unknown }>>>(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/values/timeseries?keys=${key}`)).body[key]?.[0]?.value;
    expect(String(await eventually(() => read('m')))).toBe('1');

    const none = await pub(d.token, '{"n":1}');
    expect(none.code).not.toBe(0);
    expect(`${none.stdout}${none.stderr}`).toMatch(/certificate required|handshake failure|TLS error/i);
    expect(none.stdout).not.toMatch(/CONNACK/);
    const self = await pub(d.token, '{"s":1}', ['--cert', certs.selfSignedCert, '--key', certs.selfSignedKey]);
    expect(self.code).not.toBe(0);
    // TLS 1.3 checks the client's certificate after the client's side of the handshake: the server
    // closes the connection before CONNACK (mosquitto: "unexpected eof", "The connection was lost")
    expect(`${self.stdout}${self.stderr}`).toMatch(/unknown ca|certificate|TLS error|unexpected eof/i);
    expect(self.stdout).not.toMatch(/CONNACK/);
    await sleep(300);
    expect(await read('n')).toBeUndefined();
    expect(await read('s')).toBeUndefined();
  });

  it('HTTPS does not ask for client certificates (the dashboard and REST clients have none)', async () => {
    const r = await run('curl', ['-sS', '--fail-with-body', '--cacert', certs.caCert, `https://localhost:${app.httpsPort}/api/health`]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: 'UP' });
  });
});

/** The SHA-256 fingerprint of the certificate a TLS port presents (trusting the test CA). */
function presented(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca) }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

describe('certificate renewal: reloadTls (SIGHUP) without a restart', () => {
  const dir = tempDir('rivulet-tls-reload-');
  let certs: TestCertificates;
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  const certPath = () => join(dir.dir, 'live', 'tls.crt');
  const keyPath = () => join(dir.dir, 'live', 'tls.key');

  beforeAll(async () => {
    certs = await makeTestCertificates(dir.dir);
    mkdirSync(join(dir.dir, 'live'));
    copyFileSync(certs.serverCert, certPath());
    copyFileSync(certs.serverKey, keyPath());
    db = await createTestDatabase('tlsreload');
    app = await startTestServer({
      DATABASE_URL: db.url,
      RIVULET_DATA_DIR: join(dir.dir, 'data'),
      RIVULET_TLS_CERT: certPath(),
      RIVULET_TLS_KEY: keyPath(),
      RIVULET_MQTT_TLS_PORT: '0',
      RIVULET_HTTPS_PORT: '0',
    });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  it('new connections get the renewed certificate on both TLS ports, an open MQTT session keeps going; files that do not match change nothing', async () => {
    const fp = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256;
    expect(await presented(app.httpsPort!, certs.caCert)).toBe(fp(certs.serverCert));
    expect(await presented(app.mqttTlsPort!, certs.caCert)).toBe(fp(certs.serverCert));
    const d = await createDevice(app.url, jwt, 'reload-device');
    const session = await connectAsync(`mqtts://localhost:${app.mqttTlsPort}`, { username: d.token, ca: readFileSync(certs.caCert), reconnectPeriod: 0 });
    try {
      copyFileSync(certs.renewedCert, certPath());
      copyFileSync(certs.renewedKey, keyPath());
      expect(app.reloadTls()).toBe(true);
      expect(await presented(app.httpsPort!, certs.caCert)).toBe(fp(certs.renewedCert));
      expect(await presented(app.mqttTlsPort!, certs.caCert)).toBe(fp(certs.renewedCert));
      // the session opened before the renewal is still up
      await session.publishAsync('v1/devices/me/telemetry', '{"before":1}', { qos: 1 });
      const pub = await run('mosquitto_pub', ['--cafile', certs.caCert, '-h', 'localhost', '-p', String(app.mqttTlsPort), '-u', d.token, '-t', 'v1/devices/me/telemetry', '-q', '1', '-m', '{"after":2}']);
      expect(pub.code).toBe(0);
      const read = async (key: string) =>
        (await api<Record<string, Array<{ value: unknown }>>>(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/values/timeseries?keys=${key}`)).body[key]?.[0]?.value;
      expect(String(await eventually(() => read('before')))).toBe('1');
      expect(String(await eventually(() => read('after')))).toBe('2');

      // a half-copied renewal (the old key with the new certificate... here: a key of nothing)
      copyFileSync(certs.otherKey, keyPath());
      expect(app.reloadTls()).toBe(false);
      expect(await presented(app.httpsPort!, certs.caCert)).toBe(fp(certs.renewedCert));
      expect(await presented(app.mqttTlsPort!, certs.caCert)).toBe(fp(certs.renewedCert));
    } finally {
      await session.endAsync(true);
    }
  });
});

describe('TLS misconfiguration refuses start', () => {
  const dir = tempDir('rivulet-tls-bad-');
  let certs: TestCertificates;
  beforeAll(async () => {
    certs = await makeTestCertificates(dir.dir);
    writeFileSync(join(dir.dir, 'garbage.pem'), 'not a certificate\n');
  });
  afterAll(() => dir.remove());

  const start = (env: Record<string, string>) =>
    startTestServer({ RIVULET_DATA_DIR: join(dir.dir, 'data'), RIVULET_MQTT_TLS_PORT: '0', RIVULET_HTTPS_PORT: '0', DATABASE_URL: 'postgres://127.0.0.1:1/never-opened', ...env });

  it('each bad setting is a ConfigError naming the variable, before the database is opened', async () => {
    // (DATABASE_URL points nowhere: reaching storage would be a connection error instead)
    await expect(start({ RIVULET_TLS_CERT: join(dir.dir, 'missing.pem'), RIVULET_TLS_KEY: certs.serverKey })).rejects.toThrow(/RIVULET_TLS_CERT: cannot read .*missing\.pem \(no such file\)/);
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: join(dir.dir, 'missing.key') })).rejects.toThrow(/RIVULET_TLS_KEY: cannot read .*missing\.key \(no such file\)/);
    await expect(start({ RIVULET_TLS_CERT: join(dir.dir, 'garbage.pem'), RIVULET_TLS_KEY: certs.serverKey })).rejects.toThrow(/RIVULET_TLS_CERT: .*holds no PEM certificate/);
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: join(dir.dir, 'garbage.pem') })).rejects.toThrow(/RIVULET_TLS_KEY: .*does not parse as a PEM private key/);
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: certs.otherKey })).rejects.toThrow(/RIVULET_TLS_KEY: .*is not the private key of the certificate/);
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: certs.encryptedKey })).rejects.toThrow(/RIVULET_TLS_KEY: .*passphrase-protected/);
    // a key file given as the certificate (and the reverse)
    await expect(start({ RIVULET_TLS_CERT: certs.serverKey, RIVULET_TLS_KEY: certs.serverCert })).rejects.toThrow(/RIVULET_TLS_CERT: .*holds no PEM certificate/);
    // one without the other
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert })).rejects.toThrow(/RIVULET_TLS_KEY: TLS needs both/);
    await expect(start({ RIVULET_TLS_KEY: certs.serverKey })).rejects.toThrow(/RIVULET_TLS_CERT: TLS needs both/);
    // the client CA: unreadable, not certificates, not a CA, or without TLS
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: certs.serverKey, RIVULET_MQTT_TLS_CLIENT_CA: join(dir.dir, 'nope.pem') })).rejects.toThrow(/RIVULET_MQTT_TLS_CLIENT_CA: cannot read .*nope\.pem \(no such file\)/);
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: certs.serverKey, RIVULET_MQTT_TLS_CLIENT_CA: certs.serverKey })).rejects.toThrow(/RIVULET_MQTT_TLS_CLIENT_CA: .*holds no PEM certificate/);
    await expect(start({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: certs.serverKey, RIVULET_MQTT_TLS_CLIENT_CA: certs.serverCert })).rejects.toThrow(/RIVULET_MQTT_TLS_CLIENT_CA: certificate 1 in .*server\.pem \(CN=localhost\) is not a CA certificate/);
    await expect(start({ RIVULET_MQTT_TLS_CLIENT_CA: certs.caCert })).rejects.toThrow(/RIVULET_MQTT_TLS_CLIENT_CA: needs TLS turned on/);
  });

  it('a certificate that has expired or is not valid yet starts, with a warning (clients will refuse it)', () => {
    const tls = loadTlsMaterial({ RIVULET_TLS_CERT: certs.serverCert, RIVULET_TLS_KEY: certs.serverKey, RIVULET_MQTT_TLS_CLIENT_CA: undefined })!;
    expect(tls.subject).toBe('CN=localhost');
    expect(tls.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    const logs: Array<[string, string, Record<string, unknown>]> = [];
    const logger = {
      debug() {},
      info: (f: Record<string, unknown>, m: string) => logs.push(['info', m, f]),
      warn: (f: Record<string, unknown>, m: string) => logs.push(['warn', m, f]),
      error() {},
      child: () => logger,
    };
    reportTlsMaterial(tls, logger);
    reportTlsMaterial(tls, logger, tls.validTo.getTime() + 1000);
    reportTlsMaterial(tls, logger, tls.validFrom.getTime() - 1000);
    expect(logs.map(([level, msg]) => `${level}: ${msg}`)).toEqual([
      'info: TLS certificate loaded',
      'warn: TLS certificate has expired: clients will refuse it',
      'warn: TLS certificate is not valid yet: clients will refuse it',
    ]);
    expect(logs[0]![2]).toMatchObject({ subject: 'CN=localhost', validTo: tls.validTo.toISOString(), fingerprint256: tls.fingerprint256 });
  });

  it('npm start with a key that does not match: exit code 2, the message on stderr, no port opened', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/main.ts'], {
      cwd: join(import.meta.dirname, '..'),
      env: {
        ...process.env,
        RIVULET_HTTP_PORT: String(port),
        RIVULET_HTTP_HOST: '127.0.0.1',
        RIVULET_MQTT_PORT: '0',
        RIVULET_COAP_PORT: '0',
        RIVULET_DATA_DIR: join(dir.dir, 'proc-data'),
        RIVULET_ADMIN_PASSWORD: ADMIN.password,
        RIVULET_TLS_CERT: certs.serverCert,
        RIVULET_TLS_KEY: certs.otherKey,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.resume();
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    // a server that started anyway is stopped, not left behind
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await exited.finally(() => clearTimeout(timer));
    expect(code).toBe(2);
    expect(stderr).toMatch(/Invalid configuration:\n {2}RIVULET_TLS_KEY: .*other\.key is not the private key of the certificate in .*server\.pem \(subject CN=localhost\)/);
    expect(stderr).toContain('See docs/configuration.md.');
    expect(stderr).not.toMatch(/listening on/);
    const refused = await fetch(`http://127.0.0.1:${port}/api/health`).then(
      () => false,
      () => true,
    );
    expect(refused).toBe(true);
  }, 60_000);
});
