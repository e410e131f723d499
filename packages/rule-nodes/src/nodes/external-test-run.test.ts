import { silentLogger } from '@rivulet/core';
import { createOutbound } from '@rivulet/outbound';
import { createNodeRegistry, testRunChain } from '@rivulet/rule-engine';
import { createRecordingServices } from '@rivulet/rule-engine/testing';
import { startCountingListener, type CountingListener } from '@rivulet/testing';
import { Aedes } from 'aedes';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinNodes } from '../index';

/**
 * Test runs never call out, even when the real services would allow the call: they get a recording
 * outbound capability in place of the real one. The real one here allows loopback, so a call that
 * slipped through would show at the listeners.
 */
describe('external nodes in a test run', () => {
  const registry = createNodeRegistry(builtinNodes);
  let listener: CountingListener;
  let broker: Aedes;
  let brokerServer: NetServer;
  let brokerPort = 0;
  let brokerConnections = 0;
  beforeAll(async () => {
    listener = await startCountingListener({ body: '{"real":true}' });
    broker = await Aedes.createBroker();
    brokerServer = createNetServer(broker.handle as never);
    brokerServer.on('connection', () => brokerConnections++);
    await new Promise<void>((r) => brokerServer.listen(0, '127.0.0.1', r));
    brokerPort = (brokerServer.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await listener.close();
    await new Promise<void>((r) => brokerServer.close(() => r()));
    await new Promise<void>((r) => broker.close(() => r()));
  });

  const chain = (nodes: Array<{ type: string; configuration: unknown }>, connections: Array<{ fromIndex: number; toIndex: number; type: string }>) => ({
    ruleChain: { name: 'dry', type: 'CORE', root: false, debugMode: false, configuration: null },
    metadata: { firstNodeIndex: 0, nodes: nodes.map((n, i) => ({ ...n, name: `n${i}`, debugMode: false })), connections, ruleChainConnections: null },
  });

  it('records the REST call (secrets masked) and the MQTT publish, answers them as simulated, and sends nothing', async () => {
    const services = createRecordingServices({ outbound: createOutbound({ allow: ['127.0.0.1/32'], logger: silentLogger }) });
    const r = await testRunChain({
      chain: chain(
        [
          {
            type: 'rivulet.external.restApiCall',
            configuration: {
              restEndpointUrlPattern: `http://user:pa55@127.0.0.1:${listener.port}/hook/\${deviceName}?api_key=k1&x=1`,
              headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'k2', 'X-Trace': '$[trace]' },
              credentials: { type: 'basic', username: 'u', password: 'p' },
            },
          },
          { type: 'rivulet.external.mqttPublish', configuration: { host: '127.0.0.1', port: brokerPort, topicPattern: 'out/${deviceName}', credentials: { type: 'basic', username: 'bridge', password: 'hunter2' } } },
        ],
        [{ fromIndex: 0, toIndex: 1, type: 'Success' }],
      ),
      msg: { type: 'POST_TELEMETRY_REQUEST', data: { t: 21, trace: 'abc' }, metadata: { deviceName: 'pump' } },
      tenantId: 't1',
      registry,
      services,
    });
    expect(r.error).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.writes).toEqual([
      {
        kind: 'http',
        method: 'POST',
        url: `http://user:***@127.0.0.1:${listener.port}/hook/pump?api_key=***&x=1`,
        headers: { 'Content-Type': 'application/json', 'X-Api-Key': '***', 'X-Trace': 'abc', Authorization: '***' },
        body: '{"t":21,"trace":"abc"}',
        policy: 'allowed',
      },
      { kind: 'mqtt', host: '127.0.0.1', port: brokerPort, ssl: false, clientId: expect.any(String), topic: 'out/pump', payload: '""', qos: 1, retain: false, policy: 'allowed' },
    ]);
    // The REST node went on with the simulated answer (empty body, marked), which the MQTT node published.
    expect(r.steps[0]!.outputs[0]).toMatchObject({ relation: 'Success', msg: { data: '', metadata: { deviceName: 'pump', statusCode: '200', simulated: 'test-run' } } });
    expect(JSON.stringify(r)).not.toMatch(/pa55|hunter2|k1|k2/);
    expect(listener.connections()).toBe(0);
    expect(brokerConnections).toBe(0);
  });

  it('a test run on services without the outbound capability is refused like a save, and nothing is called', async () => {
    const r = testRunChain({
      chain: chain([{ type: 'rivulet.external.restApiCall', configuration: { restEndpointUrlPattern: `http://127.0.0.1:${listener.port}/`, requestMethod: 'GET' } }], []),
      msg: { type: 'POST_TELEMETRY_REQUEST', data: {} },
      tenantId: 't1',
      registry,
      services: createRecordingServices(),
    });
    await expect(r).rejects.toThrow(/Node 0 "n0" \(REST API call\) needs outbound calls, which this deployment does not provide \('outbound' capability\)/);
    expect(listener.connections()).toBe(0);
  });
});
