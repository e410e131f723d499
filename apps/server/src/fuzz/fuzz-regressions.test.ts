import { createSocket } from 'node:dgram';
import { connect } from 'mqtt';
import { MessageType, decodeMessage, encodeMessage } from '@rivulet/transport-coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually } from '../test-helpers';
import { startFuzzServer, type FuzzServer } from './fuzz-harness';

/**
 * Inputs the fuzzers found that the server mishandled, each sent as found: these must keep
 * getting a clear refusal in the protocol's terms and no error in the server's log.
 */
describe('fuzzer findings', () => {
  let f: FuzzServer;
  beforeAll(async () => {
    f = await startFuzzServer('regress');
  });
  afterAll(async () => {
    await f?.stop();
  });

  // Found by mqtt.fuzz (a mutated CONNECT's username): PostgreSQL refuses NUL in text, so the
  // credentials query failed; HTTP answered 500, MQTT CONNACK 3 (server unavailable), each logged as an error.
  it('a device token holding NUL is refused on HTTP, MQTT and CoAP (401, connection closed, 4.01)', async () => {
    const http = await fetch(`${f.app.url}/api/v1/ab%00cd/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(http.status).toBe(401);

    // MQTT: a string holding NUL is malformed [MQTT-1.5.3], so the CONNECT is refused by closing
    // the connection before any credentials lookup (no CONNACK).
    const mqttOutcome = await new Promise<string | number | undefined>((resolve) => {
      const c = connect(`mqtt://127.0.0.1:${f.app.mqttPort}`, { username: 'ab\u0000cd', reconnectPeriod: 0 });
      c.on('connect', () => {
        resolve('connected');
        c.end(true);
      });
      c.on('error', (e: Error & { code?: number }) => resolve(e.code));
      c.on('close', () => resolve('closed'));
    });
    expect(mqttOutcome).toBe('closed');

    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const answer = new Promise<string | undefined>((resolve) => s.on('message', (m) => resolve(decodeMessage(m)?.codeText)));
    const options = ['api', 'v1', 'ab\u0000cd', 'telemetry'].map((seg) => [11, Buffer.from(seg)] as const);
    s.send(encodeMessage({ type: MessageType.CON, code: '0.02', messageId: 0x1600, token: Buffer.from([1]), options, payload: Buffer.from('{"a":1}') }), f.app.coapPort as number, '127.0.0.1');
    expect(await answer).toBe('4.01');
    s.close();

    expect(f.errorLogs).toEqual([]);
  });

  // Found by coap.fuzz (a random JSON telemetry value): jsonb refuses the escape of an unpaired
  // surrogate, so the device got 200 / 2.01 and the save failed in the rule engine, was retried
  // and skipped with the message's other keys, logged as an error.
  it('a JSON telemetry value holding an unpaired surrogate is refused at once (HTTP 400, CoAP 4.00)', async () => {
    const body = '{"ok":1,"j":{"b":"\\ud800"}}';
    const http = await fetch(`${f.app.url}/api/v1/${f.target.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(http.status).toBe(400);
    expect(await http.text()).toMatch(/valid Unicode/);

    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const answer = new Promise<string | undefined>((resolve) => s.on('message', (m) => resolve(decodeMessage(m)?.codeText)));
    const options = ['api', 'v1', f.target.token, 'telemetry'].map((seg) => [11, Buffer.from(seg)] as const);
    s.send(encodeMessage({ type: MessageType.CON, code: '0.02', messageId: 0x1601, token: Buffer.from([2]), options, payload: Buffer.from(body) }), f.app.coapPort as number, '127.0.0.1');
    expect(await answer).toBe('4.00');
    s.close();

    // a well-formed pair is stored as sent
    const pair = await fetch(`${f.app.url}/api/v1/${f.target.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"j":{"b":"\\ud83d\\udca7"}}' });
    expect(pair.status).toBe(200);
    await eventually(async () => JSON.stringify((await api<Record<string, Array<{ value: unknown }>>>(f.app.url, f.jwt, `/api/plugins/telemetry/DEVICE/${f.target.id}/values/timeseries?keys=j`)).body.j?.[0]?.value)?.includes('💧'));
    expect(f.errorLogs).toEqual([]);
  });
});
