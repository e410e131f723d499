import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createRpcCaller, DeviceChannel, LiveChannel, respondToCaller, RpcChannel } from '@rivulet/broadcast';
import type { AttributesEvent, TelemetryEvent, ToDeviceRpcRequest } from '@rivulet/core';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { createKafkaBroadcast, type KafkaBroadcast, type KafkaBroadcastOptions } from './kafka-broadcast';

const brokers = inject('kafkaBrokers');
const open: KafkaBroadcast[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(open.splice(0).map((b) => b.close()));
});

async function node(prefix: string, nodeId: string, over: Partial<KafkaBroadcastOptions> = {}): Promise<KafkaBroadcast> {
  const b = await createKafkaBroadcast({ brokers, clientId: 'broadcast-test', nodeId, topicPrefix: prefix, heartbeatMs: 300, sessionTtlMs: 2000, ...over });
  open.push(b);
  return b;
}

const prefix = (): string => `t${randomUUID().slice(0, 8)}.`;
const telemetry = (entityId: string, value: number): TelemetryEvent => ({ entityId, points: [{ key: 'temperature', ts: 1, value }] });
const rpc = (deviceId: string, over: Partial<ToDeviceRpcRequest> = {}): ToDeviceRpcRequest => ({
  requestId: randomUUID(),
  tenantId: 't1',
  deviceId,
  method: 'setGpio',
  params: { pin: 7 },
  oneway: false,
  expirationTime: Date.now() + 10_000,
  ...over,
});

/** A transport on `b` holding `deviceId`: picks RPC up and answers it; records what it saw. */
function transport(b: KafkaBroadcast, deviceId: string): { seen: ToDeviceRpcRequest[]; release: () => void } {
  const seen: ToDeviceRpcRequest[] = [];
  b.subscribe(RpcChannel.TO_DEVICE, (r) => {
    seen.push(r);
    if (r.deviceId !== deviceId) return;
    respondToCaller(b, r.replyTo, { requestId: r.requestId, deviceId, delivered: true });
    respondToCaller(b, r.replyTo, { requestId: r.requestId, deviceId, delivered: true, response: { ok: true, by: b.nodeId } });
  });
  return { seen, release: b.holdSession(deviceId) };
}

describe('Kafka broadcast (real broker)', () => {
  it('fan-out reaches every process once: live updates published on one reach a subscriber on the other', async () => {
    const p = prefix();
    const [a, b] = await Promise.all([node(p, 'node-a'), node(p, 'node-b')]);
    const onA: TelemetryEvent[] = [];
    const onB: TelemetryEvent[] = [];
    a.subscribe(LiveChannel.TELEMETRY, (e) => onA.push(e));
    b.subscribe(LiveChannel.TELEMETRY, (e) => onB.push(e));
    a.publish(LiveChannel.TELEMETRY, telemetry('d1', 1));
    b.publish(LiveChannel.TELEMETRY, telemetry('d1', 2));
    // the publisher's own subscribers get it synchronously
    expect(onA).toEqual([telemetry('d1', 1)]);
    await vi.waitFor(() => expect(onB).toHaveLength(2), { timeout: 10_000 });
    await vi.waitFor(() => expect(onA).toHaveLength(2), { timeout: 10_000 });
    expect(onB).toEqual([telemetry('d1', 2), telemetry('d1', 1)]);
    expect(onA).toEqual([telemetry('d1', 1), telemetry('d1', 2)]);
    // no copies arrive later
    await new Promise((r) => setTimeout(r, 500));
    expect([onA.length, onB.length]).toEqual([2, 2]);
  });

  it('directed RPC reaches only the process holding the device, its reply returns; an offline device is answered at once', async () => {
    const p = prefix();
    const [api, holder, other] = await Promise.all([node(p, 'api'), node(p, 'transport-1'), node(p, 'transport-2')]);
    const t1 = transport(holder, 'dev-1');
    const t2 = transport(other, 'dev-2');
    await vi.waitFor(() => expect(api.holdersOf('dev-1')).toEqual(['transport-1']), { timeout: 10_000 });
    const caller = createRpcCaller({ broadcast: api, pickupTimeoutMs: 5000 });
    try {
      const outcome = await caller.call(rpc('dev-1'));
      expect(outcome).toEqual({ kind: 'delivered', response: { ok: true, by: 'transport-1' } });
      expect(t1.seen.map((r) => [r.deviceId, r.replyTo])).toEqual([['dev-1', 'api']]);
      expect(t2.seen).toEqual([]);

      const started = Date.now();
      expect(await caller.call(rpc('dev-offline'))).toEqual({ kind: 'no-session' });
      expect(Date.now() - started).toBeLessThan(100);

      // released: offline again, at once
      t1.release();
      await vi.waitFor(() => expect(api.holdersOf('dev-1')).toEqual([]), { timeout: 10_000 });
      const t0 = Date.now();
      expect(await caller.call(rpc('dev-1'))).toEqual({ kind: 'no-session' });
      expect(Date.now() - t0).toBeLessThan(100);
      expect(t1.seen).toHaveLength(1);
      expect(t2.seen).toEqual([]);
    } finally {
      caller.close();
    }
  });

  it('a process that released the device while the request travelled says so: "no session" without the pickup window', async () => {
    const p = prefix();
    const [api, holder] = await Promise.all([node(p, 'api'), node(p, 'holder')]);
    const t = transport(holder, 'dev-s');
    await vi.waitFor(() => expect(api.holdersOf('dev-s')).toEqual(['holder']), { timeout: 10_000 });
    const caller = createRpcCaller({ broadcast: api, pickupTimeoutMs: 5000 });
    try {
      // released in the same tick as the call: the api's registry cannot have heard of it yet
      t.release();
      const t0 = Date.now();
      const pending = caller.call(rpc('dev-s'));
      expect(api.holdersOf('dev-s')).toEqual(['holder']);
      expect(await pending).toEqual({ kind: 'no-session' });
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(t.seen).toEqual([]);
    } finally {
      caller.close();
    }
  });

  it('shared-attribute pushes go to the holding process only', async () => {
    const p = prefix();
    const [api, holder, other] = await Promise.all([node(p, 'api'), node(p, 'holder'), node(p, 'other')]);
    const got: Record<string, AttributesEvent[]> = { holder: [], other: [] };
    holder.subscribe(DeviceChannel.SHARED_ATTRIBUTES, (e) => got.holder!.push(e));
    other.subscribe(DeviceChannel.SHARED_ATTRIBUTES, (e) => got.other!.push(e));
    holder.holdSession('dev-3');
    await vi.waitFor(() => expect(api.holdersOf('dev-3')).toEqual(['holder']), { timeout: 10_000 });
    const ev: AttributesEvent = { entityId: 'dev-3', scope: 'SHARED_SCOPE', values: [{ key: 'target', value: 21.5, lastUpdateTs: 5 }] };
    expect(api.sendToDevice(DeviceChannel.SHARED_ATTRIBUTES, 'dev-3', ev)).toBe(1);
    expect(api.sendToDevice(DeviceChannel.SHARED_ATTRIBUTES, 'dev-nobody', ev)).toBe(0);
    await vi.waitFor(() => expect(got.holder).toEqual([ev]), { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(got.other).toEqual([]);
  });

  it('a process that stops heartbeating stops counting; unreadable records are skipped, not fatal', async () => {
    const p = prefix();
    const a = await node(p, 'a');
    const kafka = new Kafka({ clientId: 'forger', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      // a claim of a node that sent one heartbeat long ago (a crashed process) and garbage
      await producer.send({
        topic: `${p}rivulet.sessions`,
        messages: [
          { key: 'n/ghost', value: JSON.stringify({ v: 1, value: { nodeId: 'ghost', at: 0 } }), timestamp: String(Date.now() - 60_000) },
          { key: 's/ghost/dev-9', value: JSON.stringify({ v: 1, value: { nodeId: 'ghost', deviceId: 'dev-9' } }) },
          { key: 'garbage key', value: 'x' },
        ],
      });
      const got: TelemetryEvent[] = [];
      a.subscribe(LiveChannel.TELEMETRY, (e) => got.push(e));
      // the fan-out topic is read from the latest offset: wait until this process reads it (a first
      // event arrives) before sending the garbage, else it may be behind the position and never read
      await vi.waitFor(
        async () => {
          await producer.send({ topic: `${p}rivulet.broadcast`, messages: [{ key: LiveChannel.TELEMETRY.name, value: JSON.stringify({ v: 1, value: telemetry('d', 1) }) }] });
          expect(got.length).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 500 },
      );
      got.length = 0;
      await producer.send({ topic: `${p}rivulet.broadcast`, messages: [{ key: LiveChannel.TELEMETRY.name, value: 'not json' }] });
      await producer.send({ topic: `${p}rivulet.broadcast`, messages: [{ key: LiveChannel.TELEMETRY.name, value: JSON.stringify({ v: 1, value: telemetry('d', 3) }) }] });
      await vi.waitFor(() => expect(got.at(-1)).toEqual(telemetry('d', 3)), { timeout: 10_000 });
      await vi.waitFor(() => expect(a.stats().badRecords).toBe(2), { timeout: 10_000 });
      expect(a.holdersOf('dev-9')).toEqual([]);
      expect(a.sendToDevice(RpcChannel.TO_DEVICE, 'dev-9', rpc('dev-9'))).toBe(0);
    } finally {
      await producer.disconnect();
    }
  });

  it('across real processes: RPC both ways, live updates, and a killed process drops out of the registry', async () => {
    const p = prefix();
    const parent = await node(p, 'parent');
    const parentTransport = transport(parent, 'dev-parent');
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', fileURLToPath(new URL('./child-node.ts', import.meta.url))], {
      env: { ...process.env, KAFKA_BROKERS: brokers, TOPIC_PREFIX: p, NODE_ID: 'child', CHILD_DEVICE: 'dev-child' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines: Array<Record<string, unknown>> = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
    await vi.waitFor(() => expect(lines).toContainEqual({ ready: 'child' }), { timeout: 30_000, interval: 100 });
    await vi.waitFor(() => expect(parent.holdersOf('dev-child')).toEqual(['child']), { timeout: 10_000 });

    const caller = createRpcCaller({ broadcast: parent, pickupTimeoutMs: 5000 });
    try {
      expect(await caller.call(rpc('dev-child', { params: { n: 1 } }))).toEqual({ kind: 'delivered', response: { echo: { n: 1 }, from: 'child' } });
      parent.publish(LiveChannel.TELEMETRY, telemetry('dev-child', 42));
      await vi.waitFor(() => expect(lines).toContainEqual({ got: 'telemetry', event: telemetry('dev-child', 42) }), { timeout: 10_000 });
      child.stdin!.write(`${JSON.stringify({ call: 'dev-parent' })}\n`);
      await vi.waitFor(() => expect(lines).toContainEqual({ got: 'outcome', outcome: { kind: 'delivered', response: { ok: true, by: 'parent' } } }), { timeout: 10_000 });
      expect(parentTransport.seen.map((r) => r.replyTo)).toEqual(['child']);

      // SIGKILL: no goodbye; its claim stops counting when its heartbeat is older than the ttl (2 s here)
      child.kill('SIGKILL');
      await vi.waitFor(() => expect(parent.holdersOf('dev-child')).toEqual([]), { timeout: 10_000 });
      const t0 = Date.now();
      expect(await caller.call(rpc('dev-child'))).toEqual({ kind: 'no-session' });
      expect(Date.now() - t0).toBeLessThan(100);
      // RPC requests the child printed: exactly the one meant for it
      expect(lines.filter((l) => l.got === 'rpc')).toEqual([{ got: 'rpc', deviceId: 'dev-child', method: 'setGpio' }]);
    } finally {
      caller.close();
    }
  }, 60_000);
});
