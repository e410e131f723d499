import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMsg, silentLogger, type Msg } from '@rivulet/core';
import { createOutbound } from '@rivulet/outbound';
import { createMemoryQueue, Topics, type MemoryQueue } from '@rivulet/queue';
import { createDeadLetterStore, createNodeRegistry, createRuleEngine, type DeadLetterStore, type RuleEngine } from '@rivulet/rule-engine';
import { createRecordingServices, type RecordingServices } from '@rivulet/rule-engine/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinNodes } from './index';

/**
 * The pack timeout with a real slow node: a REST API call node whose endpoint never answers for one
 * device (its read timeout, 60 s, far beyond the pack timeout), in front of a save node. The engine
 * runs on the memory queue with one partition, so a stalled batch would stall every device.
 */
describe('rule engine with a slow node (REST call to a hanging endpoint)', () => {
  let server: Server;
  let base = '';
  const hung: ServerResponse[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/stuck') hung.push(res);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const r of hung) r.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const chain = () => ({
    ruleChain: { name: 'slow', type: 'CORE', root: true, debugMode: false, configuration: null },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        { type: 'rivulet.external.restApiCall', name: 'call', debugMode: false, configuration: { restEndpointUrlPattern: `${base}/\${deviceName}`, readTimeoutMs: 60_000 } },
        { type: 'rivulet.action.saveTimeseries', name: 'save', debugMode: false, configuration: {} },
      ],
      connections: [{ fromIndex: 0, toIndex: 1, type: 'Success' }],
      ruleChainConnections: null,
    },
  });
  const telemetry = (device: string, n: number): Msg =>
    createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: device }, tenantId: 't1', data: { n }, metadata: { deviceName: device, ts: String(1000 + n) } });

  async function until(cond: () => boolean, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('times the stuck message out, dead-letters it, and keeps the partition moving', async () => {
    const queue: MemoryQueue = createMemoryQueue({ partitions: 1 });
    const outbound = createOutbound({ allow: ['127.0.0.1/32'], logger: silentLogger });
    const services: RecordingServices = { ...createRecordingServices(), outbound } as RecordingServices;
    const engine: RuleEngine = createRuleEngine({
      queue,
      registry: createNodeRegistry(builtinNodes),
      servicesFor: () => services,
      chains: { getRootChain: async () => ({ id: 'slow-chain', json: chain() }) },
      packTimeoutMs: 500,
      retryBackoffMs: 5,
    });
    const deadLetters: DeadLetterStore = createDeadLetterStore({ queue, topic: `${Topics.RULE_ENGINE}.dlq`, replayTopic: Topics.RULE_ENGINE, group: 'dead-letters' });
    try {
      await engine.start();
      await deadLetters.start();
      const produce = (msgs: Msg[]) => queue.produce(Topics.RULE_ENGINE, msgs.map((m) => ({ key: m.originator.id, value: m })));
      const t0 = Date.now();
      await produce([telemetry('ok-1', 1), telemetry('stuck', 2), telemetry('ok-2', 3)]);
      await until(() => deadLetters.size() === 1);
      const waited = Date.now() - t0;
      // One pack timeout (plus the calls), not the node's 60 s read timeout.
      expect(waited).toBeGreaterThanOrEqual(450);
      expect(waited).toBeLessThan(5000);
      const [entry] = deadLetters.list();
      expect(entry?.deadLetter).toMatchObject({ reason: 'timed-out', attempts: 1, chainId: 'slow-chain', error: 'Not processed within the pack timeout (500 ms)' });
      expect(entry?.deadLetter?.msg.originator.id).toBe('stuck');
      expect(services.points.map((p) => `${p.entityId}:${p.key}=${String(p.value)}`).sort()).toEqual(['ok-1:n=1', 'ok-2:n=3']);
      expect(hung).toHaveLength(1);

      // The partition moved on: a later batch runs and the rule-engine group has no lag.
      await produce([telemetry('ok-1', 4)]);
      await until(() => services.points.length === 3);
      expect(await queue.lag(Topics.RULE_ENGINE, 'rule-engine')).toBe(0);
      expect(engine.stats()).toMatchObject({ timedOut: 1, abandoned: 1, skipped: 1, deadLettered: 1 });

      // Replay once the endpoint answers again: the message runs through the chain and is saved.
      hung.shift()?.destroy();
      await until(() => engine.stats().abandoned === 0);
      server.removeAllListeners('request');
      server.on('request', (req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
      });
      expect(await deadLetters.replay([entry!.id])).toEqual({ replayed: 1, notFound: [] });
      await until(() => services.points.some((p) => p.entityId === 'stuck'));
      expect(deadLetters.size()).toBe(0);
    } finally {
      await engine.stop();
      await deadLetters.stop();
      await queue.close();
      outbound.close();
    }
  });
});
