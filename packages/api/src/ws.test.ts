import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Broadcast, createMemoryBroadcast, LiveChannel } from '@rivulet/broadcast';
import { WsUpdateSchema, type WsUpdate } from '@rivulet/api-types';
import { type AttributesEvent, type TelemetryEvent, type TsPoint } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createTenantUser, createTestStorage, startTestApi, type TestApi, type TestUser } from './test-storage';

/** A WebSocket client that queues what it receives, for step-by-step assertions. */
class Client {
  private readonly queue: WsUpdate[] = [];
  private waiter: ((m: WsUpdate) => void) | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = WsUpdateSchema.parse(JSON.parse(String(data)));
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(m);
      } else this.queue.push(m);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(url);
    const c = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  next(timeoutMs = 3000): Promise<WsUpdate> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no WebSocket message in time')), timeoutMs);
      this.waiter = (msg) => {
        clearTimeout(timer);
        resolve(msg);
      };
    });
  }

  /** Nothing arrives within ms. */
  async silent(ms = 200): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    expect(this.queue).toEqual([]);
  }

  close(): void {
    this.ws.close();
  }
}

describe('WebSocket API', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let token: string;
  let otherToken: string;
  let deviceId: string;

  beforeAll(async () => {
    storage = await createTestStorage();
    admin = await createTenantUser(storage, 'admin@ws.test', 'pw-a');
    const other = await createTenantUser(storage, 'admin@ws-other.test', 'pw-b');
    t = await startTestApi(storage, { wsAuthTimeoutMs: 300, maxWsSubscriptionsPerSession: 3 });
    token = await t.login(admin);
    otherToken = await t.login(other);
    deviceId = (await t.request('POST', '/api/device', { token, body: { name: 'ws-device' } })).body.id.id;
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  /** What the server's storage wrapper does: store, then publish the LiveChannel event. */
  async function writeTelemetry(entityId: string, values: Record<string, number | string>, ts: number): Promise<void> {
    const points: TsPoint[] = Object.entries(values).map(([key, value]) => ({ entityId, key, ts, value }));
    await storage.timeseries.save(points);
    const event: TelemetryEvent = { entityId, points: points.map(({ key, ts: pts, value }) => ({ key, ts: pts, value })) };
    t.broadcast.publish(LiveChannel.TELEMETRY, event);
  }

  async function authed(path = '/api/ws'): Promise<Client> {
    const c = await Client.open(t.wsUrl + path);
    c.send({ authCmd: { cmdId: 0, token } });
    return c;
  }

  it('authenticates with authCmd, sends a TIMESERIES snapshot, then updates', async () => {
    await writeTelemetry(deviceId, { temperature: 20.5, humidity: 40 }, 1_000);
    const c = await authed();
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 10, entityType: 'DEVICE', entityId: deviceId, scope: 'LATEST_TELEMETRY', keys: 'temperature' }] });
    const snapshot = await c.next();
    expect(snapshot).toEqual({ subscriptionId: 10, errorCode: 0, errorMsg: null, data: { temperature: [[1000, '20.5']] }, latestValues: { temperature: 1000 } });

    await writeTelemetry(deviceId, { temperature: 25.1, humidity: 41 }, 2_000);
    expect(await c.next()).toEqual({ subscriptionId: 10, errorCode: 0, errorMsg: null, data: { temperature: [[2000, '25.1']] }, latestValues: { temperature: 2000 } });

    // Only subscribed keys, and a late older point does not replace the newer latest value.
    await writeTelemetry(deviceId, { humidity: 42 }, 3_000);
    await writeTelemetry(deviceId, { temperature: 1 }, 1_500);
    await c.silent();
    c.close();
  });

  it('subscribes to every key when keys are left out', async () => {
    const c = await authed();
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 1, entityType: 'device', entityId: deviceId }] });
    const snapshot = await c.next();
    expect(Object.keys(snapshot.data ?? {}).sort()).toEqual(['humidity', 'temperature']);
    await writeTelemetry(deviceId, { pressure: 1013 }, 4_000);
    expect((await c.next()).data).toEqual({ pressure: [[4000, '1013']] });
    c.close();
  });

  it('ATTRIBUTES: snapshot of the scope, updates and deletions of that scope only', async () => {
    await storage.attributes.save([
      { entityId: deviceId, scope: 'SHARED_SCOPE', key: 'target', value: 21, lastUpdateTs: 100 },
      { entityId: deviceId, scope: 'SERVER_SCOPE', key: 'model', value: 'X1', lastUpdateTs: 100 },
    ]);
    const c = await authed();
    c.send({ cmds: [{ type: 'ATTRIBUTES', cmdId: 5, entityType: 'DEVICE', entityId: deviceId, scope: 'SHARED_SCOPE' }] });
    expect(await c.next()).toMatchObject({ subscriptionId: 5, errorCode: 0, data: { target: [[100, '21']] } });

    const serverEvent: AttributesEvent = { entityId: deviceId, scope: 'SERVER_SCOPE', values: [{ key: 'model', value: 'X2', lastUpdateTs: 200 }] };
    t.broadcast.publish(LiveChannel.ATTRIBUTES, serverEvent);
    const sharedEvent: AttributesEvent = { entityId: deviceId, scope: 'SHARED_SCOPE', values: [{ key: 'target', value: 23, lastUpdateTs: 300 }] };
    t.broadcast.publish(LiveChannel.ATTRIBUTES, sharedEvent);
    expect(await c.next()).toMatchObject({ subscriptionId: 5, data: { target: [[300, '23']] } });

    t.broadcast.publish(LiveChannel.ATTRIBUTES, { entityId: deviceId, scope: 'SHARED_SCOPE', values: [], deleted: ['target'] } satisfies AttributesEvent);
    const deleted = await c.next();
    expect(deleted.data?.target?.[0]?.[1]).toBeNull();
    c.close();
  });

  it('ATTRIBUTES without a scope covers every scope', async () => {
    const c = await authed();
    c.send({ cmds: [{ type: 'ATTRIBUTES', cmdId: 6, entityType: 'DEVICE', entityId: deviceId, keys: 'model,fw' }] });
    expect((await c.next()).data).toEqual({ model: [[100, 'X1']] });
    t.broadcast.publish(LiveChannel.ATTRIBUTES, { entityId: deviceId, scope: 'CLIENT_SCOPE', values: [{ key: 'fw', value: '2.0', lastUpdateTs: 400 }] } satisfies AttributesEvent);
    expect((await c.next()).data).toEqual({ fw: [[400, '2.0']] });
    c.close();
  });

  it('unsubscribe stops updates', async () => {
    const c = await authed();
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 7, entityType: 'DEVICE', entityId: deviceId, keys: 'temperature' }] });
    await c.next();
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 7, unsubscribe: true }] });
    // Frames are handled in order: this round trip proves the unsubscribe was processed.
    c.send({ cmds: [{ type: 'ATTRIBUTES', cmdId: 8, entityType: 'DEVICE', entityId: deviceId, keys: 'nothing' }] });
    expect((await c.next()).subscriptionId).toBe(8);
    await writeTelemetry(deviceId, { temperature: 30 }, 10_000);
    await c.silent();
    c.close();
  });

  it('accepts the older shape with ?token= on /api/ws/plugins/telemetry', async () => {
    const c = await Client.open(`${t.wsUrl}/api/ws/plugins/telemetry?token=${token}`);
    c.send({ tsSubCmds: [{ cmdId: 3, entityType: 'DEVICE', entityId: deviceId, keys: 'temperature', scope: 'LATEST_TELEMETRY' }], attrSubCmds: [], historyCmds: [] });
    expect(await c.next()).toMatchObject({ subscriptionId: 3, errorCode: 0, data: { temperature: [[10_000, '30']] } });
    c.send({ historyCmds: [{ cmdId: 4, entityType: 'DEVICE', entityId: deviceId, keys: 'temperature', startTs: 0, endTs: 100_000, limit: 2 }] });
    expect(await c.next()).toMatchObject({ subscriptionId: 4, data: { temperature: [[10_000, '30'], [2_000, '25.1']] } });
    c.send({ tsSubCmds: [{ cmdId: 3, unsubscribe: true }] });
    c.send({ attrSubCmds: [{ cmdId: 9, entityType: 'DEVICE', entityId: deviceId, keys: 'none' }] });
    expect((await c.next()).subscriptionId).toBe(9);
    await writeTelemetry(deviceId, { temperature: 31 }, 11_000);
    await c.silent();
    c.close();
  });

  it('answers errors for another tenant\'s device and bad commands, keeping the session open', async () => {
    const c = await Client.open(t.wsUrl + '/api/ws');
    c.send({ authCmd: { cmdId: 0, token: otherToken } });
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 1, entityType: 'DEVICE', entityId: deviceId, keys: 'temperature' }] });
    const denied = await c.next();
    expect(denied.subscriptionId).toBe(1);
    expect(denied.errorCode).not.toBe(0);
    expect(denied.errorMsg).toContain(deviceId);

    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 2, entityType: 'DEVICE', entityId: 'not-a-uuid' }] });
    const bad = await c.next();
    expect(bad).toMatchObject({ subscriptionId: 2, errorCode: 2 });
    expect(bad.errorMsg).toContain('entityId');

    c.send({ cmds: [{ type: 'ENTITY_DATA', cmdId: 3 }] });
    expect(await c.next()).toMatchObject({ subscriptionId: 3, errorCode: 2 });
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 4, entityType: 'ASSET', entityId: deviceId }] });
    expect(await c.next()).toMatchObject({ subscriptionId: 4, errorCode: 2 });
    c.ws.send('{not json');
    expect(await c.next()).toMatchObject({ subscriptionId: null, errorCode: 2 });

    // Still open: the other tenant's own device works.
    const own = (await t.request('POST', '/api/device', { token: otherToken, body: { name: 'ws-own' } })).body.id.id;
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 5, entityType: 'DEVICE', entityId: own }] });
    expect(await c.next()).toMatchObject({ subscriptionId: 5, errorCode: 0, data: {} });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.close();
  });

  it('limits subscriptions per session; re-subscribing a cmdId replaces it', async () => {
    const c = await authed();
    for (const cmdId of [1, 2, 3, 3]) {
      c.send({ cmds: [{ type: 'TIMESERIES', cmdId, entityType: 'DEVICE', entityId: deviceId, keys: 'temperature' }] });
      expect((await c.next()).errorCode).toBe(0);
    }
    c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 4, entityType: 'DEVICE', entityId: deviceId }] });
    const refused = await c.next();
    expect(refused).toMatchObject({ subscriptionId: 4, errorCode: 2 });
    expect(refused.errorMsg).toContain('at most 3');
    c.close();
  });

  it('closes the connection for a bad token, a command before auth, or no auth in time', async () => {
    const bad = await Client.open(t.wsUrl + '/api/ws');
    bad.send({ authCmd: { cmdId: 0, token: 'garbage' } });
    expect(await bad.next()).toMatchObject({ subscriptionId: 0, errorCode: 3 });
    expect((await bad.closed).code).toBe(1008);

    const refresh = (await t.request('POST', '/api/auth/login', { body: { username: admin.email, password: admin.password } })).body.refreshToken;
    const withRefresh = await Client.open(`${t.wsUrl}/api/ws?token=${refresh}`);
    expect((await withRefresh.closed).code).toBe(1008);

    const early = await Client.open(t.wsUrl + '/api/ws');
    early.send({ cmds: [{ type: 'TIMESERIES', cmdId: 1, entityType: 'DEVICE', entityId: deviceId }] });
    expect((await early.next()).errorCode).toBe(3);
    expect((await early.closed).code).toBe(1008);

    const slow = await Client.open(t.wsUrl + '/api/ws');
    const closed = await slow.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toContain('timeout');
  });

  it('ignores upgrades to other paths', async () => {
    const ws = new WebSocket(`${t.wsUrl}/api/other`);
    await expect(new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    })).rejects.toThrow();
  });
});

describe('WebSocket shutdown', () => {
  it('close() ends sessions and broadcast subscriptions', async () => {
    const storage = await createTestStorage();
    const admin = await createTenantUser(storage, 'admin@ws-close.test', 'pw');
    // Counts live broadcast subscriptions, to see that close() gives them all back.
    const inner = createMemoryBroadcast();
    let live = 0;
    const broadcast: Broadcast = {
      ...inner,
      subscribe(channel, handler) {
        live++;
        const off = inner.subscribe(channel, handler);
        return () => {
          live--;
          off();
        };
      },
    };
    const t = await startTestApi(storage, { broadcast });
    try {
      expect(live).toBe(5); // WebSocket telemetry, attributes and device changes; server-side RPC responses and undelivered notices
      const token = await t.login(admin);
      const deviceId = (await t.request('POST', '/api/device', { token, body: { name: 'd' } })).body.id.id;
      const c = await Client.open(`${t.wsUrl}/api/ws?token=${token}`);
      c.send({ cmds: [{ type: 'TIMESERIES', cmdId: 1, entityType: 'DEVICE', entityId: deviceId }] });
      await c.next();
      await t.api.close();
      expect((await c.closed).code).toBe(1001);
      expect(live).toBe(0);
      // New upgrades are refused once closed.
      await expect(Client.open(`${t.wsUrl}/api/ws?token=${token}`)).rejects.toThrow();
    } finally {
      await t.close();
      await storage.close();
    }
  });
});
