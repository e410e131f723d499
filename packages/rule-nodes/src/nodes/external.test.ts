import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { silentLogger } from '@rivulet/core';
import { createKafkaService, createOutbound, createOutboundPolicy } from '@rivulet/outbound';
import type { RuleNodeDefinition, RuleNodeServices } from '@rivulet/rule-engine';
import { createRecordingServices } from '@rivulet/rule-engine/testing';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { build as buildNode, relationsOf, run, telemetry } from '../test-kit';
import { kafkaPublishNode } from './kafka-publish.node.js';
import { mqttPublishNode } from './mqtt-publish.node.js';
import { restApiCallNode } from './rest-api-call.node.js';

/** The local servers below live on loopback, which the outbound policy denies unless allow-listed. */
const withOutbound = (services: RuleNodeServices = createRecordingServices()): RuleNodeServices => ({
  ...services,
  outbound: createOutbound({ allow: ['127.0.0.1/32'], logger: silentLogger }),
});
const build = <D extends RuleNodeDefinition>(def: D, config: Record<string, unknown> = {}, services?: RuleNodeServices) => buildNode(def, config, withOutbound(services));

describe('REST API call (against a local HTTP server)', () => {
  let server: Server;
  let base = '';
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  let failuresLeft = 0;
  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        if (req.url?.startsWith('/flaky') && failuresLeft-- > 0) {
          res.writeHead(503).end('busy');
        } else if (req.url?.startsWith('/slow')) {
          setTimeout(() => res.writeHead(200).end('{}'), 500);
        } else if (req.url?.startsWith('/missing')) {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('no such thing');
        } else if (req.url?.startsWith('/text')) {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('plain words');
        } else {
          res.writeHead(200, { 'content-type': 'application/json', 'x-reply': 'yes' }).end(JSON.stringify({ echoed: body ? JSON.parse(body) : null }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    await closed;
  });

  it('POSTs the data with resolved URL and headers; the response becomes the message', async () => {
    const node = build(restApiCallNode, {
      restEndpointUrlPattern: `${base}/api/\${deviceName}`,
      headers: { 'Content-Type': 'application/json', 'X-Device': '$[id]' },
      credentials: { type: 'basic', username: 'u', password: 'p' },
    });
    const input = telemetry({ id: 'dev-7', t: 21 }, { deviceName: 'pump' });
    const [r] = await run(node, input);
    expect(r!.relation).toBe('Success');
    expect(r!.msg.id).toBe(input.id);
    expect(r!.msg.data).toEqual({ echoed: { id: 'dev-7', t: 21 } });
    expect(r!.msg.metadata).toMatchObject({ deviceName: 'pump', statusCode: '200', status: 'OK', 'x-reply': 'yes' });
    const req = seen.at(-1)!;
    expect(req).toMatchObject({ method: 'POST', url: '/api/pump' });
    expect(req.headers['x-device']).toBe('dev-7');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('a 4xx goes to Failure with the status and body, without retries', async () => {
    const before = seen.length;
    const [r] = await run(build(restApiCallNode, { restEndpointUrlPattern: `${base}/missing`, requestMethod: 'GET', retries: 3, retryDelayMs: 1 }), telemetry({}));
    expect(r!.relation).toBe('Failure');
    expect(r!.msg.metadata).toMatchObject({ statusCode: '404', error: 'HTTP 404 Not Found' });
    expect(r!.msg.data).toBe('no such thing');
    expect(seen.length - before).toBe(1);
    expect(seen.at(-1)!.body).toBe('');
  });

  it('retries 5xx and succeeds; plain text bodies stay text', async () => {
    failuresLeft = 2;
    const before = seen.length;
    const [r] = await run(build(restApiCallNode, { restEndpointUrlPattern: `${base}/flaky`, retries: 2, retryDelayMs: 5 }), telemetry({ a: 1 }));
    expect(r!.relation).toBe('Success');
    expect(seen.length - before).toBe(3);
    const [t] = await run(build(restApiCallNode, { restEndpointUrlPattern: `${base}/text`, requestMethod: 'GET' }), telemetry({}));
    expect(t!.msg.data).toBe('plain words');
  });

  it('times out per attempt and fails after the retries with a clear error', async () => {
    const node = build(restApiCallNode, { restEndpointUrlPattern: `${base}/slow`, readTimeoutMs: 50, retries: 1, retryDelayMs: 1 });
    await expect(run(node, telemetry({}))).rejects.toThrow(/failed after 2 attempt\(s\): No response within 50 ms/);
  });

  it('a call the outbound policy denies fails at once with its error, without retries or a connection', async () => {
    const before = seen.length;
    const strict = { ...createRecordingServices(), outbound: createOutbound({ logger: silentLogger }) };
    const node = buildNode(restApiCallNode, { restEndpointUrlPattern: `${base}/api`, retries: 3, retryDelayMs: 1 }, strict);
    await expect(run(node, telemetry({}))).rejects.toThrow(/^outbound call to 127\.0\.0\.1 denied by RIVULET_OUTBOUND_\* policy: 127\.0\.0\.1 is loopback/);
    expect(seen.length).toBe(before);
    // Without the capability the node has no client of its own: a clear error.
    await expect(run(buildNode(restApiCallNode, { restEndpointUrlPattern: `${base}/api` }), telemetry({}))).rejects.toThrow(/needs the 'outbound' service/);
    await expect(run(buildNode(mqttPublishNode, { host: '127.0.0.1' }), telemetry({}))).rejects.toThrow(/needs the 'outbound' service/);
    expect(seen.length).toBe(before);
  });

  it('refuses URLs that are not http(s) and unreachable hosts fail', async () => {
    await expect(run(build(restApiCallNode, { restEndpointUrlPattern: 'file:///etc/passwd' }), telemetry({}))).rejects.toThrow(/Unsupported URL scheme/);
    const closed = createNetServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(run(build(restApiCallNode, { restEndpointUrlPattern: `http://127.0.0.1:${port}/x` }), telemetry({}))).rejects.toThrow(/failed after 1 attempt/);
  });
});

describe('MQTT publish (to a local aedes broker)', () => {
  let broker: Aedes;
  let server: NetServer;
  let port = 0;
  const received: Array<{ topic: string; payload: string; retain: boolean; qos: number; clientId: string | undefined }> = [];
  beforeAll(async () => {
    broker = await Aedes.createBroker({
      authenticate: (_client, username, password, done) => done(null, username === 'bridge' && password?.toString() === 'secret'),
    });
    broker.on('publish', (packet: AedesPublishPacket, client) => {
      if (client) received.push({ topic: packet.topic, payload: packet.payload.toString(), retain: packet.retain, qos: packet.qos, clientId: client.id });
    });
    server = createNetServer(broker.handle as never);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });

  it('publishes the data (QoS 1) to the resolved topic and passes the message on', async () => {
    const node = build(mqttPublishNode, {
      host: '127.0.0.1',
      port,
      topicPattern: 'plant/${deviceName}/telemetry',
      clientId: 'rivulet-bridge',
      retainedMessage: true,
      credentials: { type: 'basic', username: 'bridge', password: 'secret' },
    });
    try {
      const input = telemetry({ t: 21 }, { deviceName: 'pump' });
      expect(await run(node, input)).toEqual([{ relation: 'Success', msg: input }]);
      await run(node, telemetry({ t: 22 }, { deviceName: 'pump' }));
      expect(received).toEqual([
        { topic: 'plant/pump/telemetry', payload: '{"t":21}', retain: true, qos: 1, clientId: 'rivulet-bridge' },
        { topic: 'plant/pump/telemetry', payload: '{"t":22}', retain: true, qos: 1, clientId: 'rivulet-bridge' },
      ]);
    } finally {
      await node.destroy?.();
    }
  });

  it('a broker that refuses the credentials fails the message within the connect timeout', async () => {
    const node = build(mqttPublishNode, { host: '127.0.0.1', port, connectTimeoutSec: 0.3, credentials: { type: 'basic', username: 'bridge', password: 'wrong' } });
    try {
      await expect(run(node, telemetry({}))).rejects.toThrow(/Not connected to MQTT broker 127\.0\.0\.1:\d+ within 0.3 s/);
    } finally {
      await node.destroy?.();
    }
  });
});

describe('Kafka publish', () => {
  it('brokers the outbound policy denies are checked when the chain loads; no record is sent', async () => {
    // The real service (kafkajs) with the default policy, which denies loopback: nothing connects.
    const kafka = createKafkaService({ policy: createOutboundPolicy(), logger: silentLogger });
    const warnings: string[] = [];
    const s = { ...createRecordingServices(), kafka, logger: { ...silentLogger, warn: (_f: unknown, m: string) => void warnings.push(m) } as typeof silentLogger };
    const node = kafkaPublishNode.create(kafkaPublishNode.configSchema.parse({ bootstrapServers: '127.0.0.1:9092' }), s);
    await vi.waitFor(() => expect(warnings).toEqual(['Kafka brokers denied by the outbound policy']));
    await expect(run(node, telemetry({ t: 1 }))).rejects.toThrow(/^outbound call to 127\.0\.0\.1 denied by RIVULET_OUTBOUND_\* policy/);
    await expect(run(node, telemetry({ t: 2 }))).rejects.toThrow(/denied by RIVULET_OUTBOUND_\* policy/);
    expect(kafka.stats().producers).toBe(1);
    await node.destroy?.();
    expect(kafka.stats().producers).toBe(0);
  });

  it('without the kafka capability the node cannot be created (a chain with it is refused on save and load)', () => {
    expect(() => build(kafkaPublishNode, {})).toThrow(/needs the 'kafka' service/);
  });

  it('refuses unknown acks and header charsets when it is created', () => {
    const s = createRecordingServices({ kafka: true });
    expect(() => build(kafkaPublishNode, { acks: 'most' }, s)).toThrow(/acks must be -1 \(all\), 0 or 1/);
    expect(() => build(kafkaPublishNode, { kafkaHeadersCharset: 'EBCDIC' }, s)).toThrow(/kafkaHeadersCharset EBCDIC is not supported/);
  });

  it('sends topic, key, value and the metadata as tb_msg_md_ headers in the configured charset', async () => {
    const s = createRecordingServices({ kafka: true });
    const node = build(kafkaPublishNode, { topicPattern: 'tb.${deviceType}', keyPattern: '${deviceName}', addMetadataKeyValuesAsKafkaHeaders: true, kafkaHeadersCharset: 'ISO-8859-1' }, s);
    const [r] = await run(node, telemetry({ t: 1 }, { deviceType: 'pump', deviceName: 'pümp' }));
    expect(relationsOf([r!])).toEqual(['Success']);
    expect(r!.msg.metadata).toMatchObject({ topic: 'tb.pump', partition: '0', offset: '0' });
    expect(s.kafkaRecords).toEqual([
      { topic: 'tb.pump', key: 'pümp', value: '{"t":1}', headers: { tb_msg_md_deviceType: Buffer.from('pump', 'latin1'), tb_msg_md_deviceName: Buffer.from('pümp', 'latin1') } },
    ]);
    expect([...(s.kafkaRecords[0]!.headers!.tb_msg_md_deviceName as Uint8Array)]).toEqual([0x70, 0xfc, 0x6d, 0x70]);
  });
});
