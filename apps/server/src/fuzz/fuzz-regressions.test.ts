import { createSocket } from 'node:dgram';
import { connectAsync } from 'mqtt';
import { MessageType, decodeMessage, encodeMessage } from '@rivulet/transport-coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  it('a device token holding NUL is an unknown token on HTTP, MQTT and CoAP (401, CONNACK 5, 4.01)', async () => {
    const http = await fetch(`${f.app.url}/api/v1/ab%00cd/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(http.status).toBe(401);

    const mqtt = await connectAsync(`mqtt://127.0.0.1:${f.app.mqttPort}`, { username: 'ab\u0000cd', reconnectPeriod: 0 }).then(
      () => 'connected',
      (e: { code?: number }) => e.code,
    );
    expect(mqtt).toBe(5);

    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    const answer = new Promise<string | undefined>((resolve) => s.on('message', (m) => resolve(decodeMessage(m)?.codeText)));
    const options = ['api', 'v1', 'ab\u0000cd', 'telemetry'].map((seg) => [11, Buffer.from(seg)] as const);
    s.send(encodeMessage({ type: MessageType.CON, code: '0.02', messageId: 0x1600, token: Buffer.from([1]), options, payload: Buffer.from('{"a":1}') }), f.app.coapPort as number, '127.0.0.1');
    expect(await answer).toBe('4.01');
    s.close();

    expect(f.errorLogs).toEqual([]);
  });
});
