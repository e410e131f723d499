import { connectAsync } from 'mqtt';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../test-helpers';
import { settle, startIsolationWorld, type IsolationWorld } from './isolation-fixture';

/**
 * Isolation matrix, WebSocket commands (issue #12): tenant B subscribes with tenant A's device id
 * in every command shape; each is refused, and when A's device then reports, B's socket receives
 * nothing while A's own subscription (the control) does.
 */
interface Frame {
  subscriptionId: number | null;
  errorCode: number;
  errorMsg: string | null;
  data: unknown;
}

async function openSocket(url: string, jwt: string): Promise<{ frames: Frame[]; send(f: unknown): void; close(): void }> {
  const ws = new WebSocket(url);
  const frames: Frame[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: jwt } }));
  return { frames, send: (f) => ws.send(JSON.stringify(f)), close: () => ws.close() };
}

/** Every command that names an entity, in the current and the older frame shapes; cmdIds 1..n. */
const commands = (id: string): unknown[] => [
  { cmds: [{ type: 'TIMESERIES', cmdId: 1, entityType: 'DEVICE', entityId: id, keys: 'temperature' }] },
  { cmds: [{ type: 'ATTRIBUTES', cmdId: 2, entityType: 'DEVICE', entityId: id }] },
  { cmds: [{ type: 'ATTRIBUTES', cmdId: 3, entityType: 'DEVICE', entityId: id, scope: 'SHARED_SCOPE' }] },
  { cmds: [{ type: 'TIMESERIES_HISTORY', cmdId: 4, entityType: 'DEVICE', entityId: id, keys: 'temperature', startTs: 0, endTs: 9_999_999_999_999 }] },
  { tsSubCmds: [{ cmdId: 5, entityType: 'DEVICE', entityId: id, keys: 'temperature', scope: 'LATEST_TELEMETRY' }] },
  { attrSubCmds: [{ cmdId: 6, entityType: 'DEVICE', entityId: id, scope: 'CLIENT_SCOPE' }] },
  { historyCmds: [{ cmdId: 7, entityType: 'DEVICE', entityId: id, keys: 'temperature', startTs: 0, endTs: 9_999_999_999_999, limit: 10 }] },
  // upper case id, and A's tenant as an entity
  { cmds: [{ type: 'TIMESERIES', cmdId: 8, entityType: 'DEVICE', entityId: id.toUpperCase(), keys: 'temperature' }] },
  { cmds: [{ type: 'ATTRIBUTES', cmdId: 9, entityType: 'TENANT', entityId: id }] },
];
const COUNT = 9;

describe('isolation matrix: WebSocket', () => {
  let w: IsolationWorld;
  let before: unknown;
  beforeAll(async () => {
    w = await startIsolationWorld('ws');
    before = await w.snapshotA();
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  it('every subscription with A’s ids is refused and delivers nothing, while A’s own is served', async () => {
    const wsUrl = `${w.app.url.replace('http', 'ws')}/api/ws`;
    const control = await openSocket(wsUrl, w.a.jwt);
    control.send({ cmds: [{ type: 'TIMESERIES', cmdId: 1, entityType: 'DEVICE', entityId: w.a.deviceId, keys: 'temperature' }] });
    await eventually(async () => control.frames.some((f) => f.subscriptionId === 1 && f.errorCode === 0));

    const sockets = [];
    for (const caller of [...w.callers, ...w.customerCallers]) {
      const s = await openSocket(wsUrl, caller.jwt);
      sockets.push(s);
      for (const c of commands(w.a.deviceId)) s.send(c);
      await eventually(async () => s.frames.length >= COUNT);
      for (const f of s.frames) {
        expect(f.errorCode, `${caller.name}: ${JSON.stringify(f)}`).not.toBe(0);
        expect(f.data ?? null, `${caller.name}: ${JSON.stringify(f)}`).toBeNull();
      }
      s.frames.length = 0;
      for (const id of [w.a.tenantId]) s.send({ cmds: [{ type: 'TIMESERIES', cmdId: 20, entityType: 'TENANT', entityId: id }] });
      await eventually(async () => s.frames.length >= 1);
      expect(s.frames[0]!.errorCode).not.toBe(0);
      s.frames.length = 0;
    }

    // A's device reports: A's subscription sees it, no other caller's socket gets a frame.
    const device = await connectAsync(`mqtt://127.0.0.1:${w.app.mqttPort}`, { username: w.a.token, reconnectPeriod: 0 });
    try {
      await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 23 }), { qos: 1 });
      await device.publishAsync('v1/devices/me/attributes', JSON.stringify({ firmware: '1.1' }), { qos: 1 });
    } finally {
      await device.endAsync(true);
    }
    await eventually(async () => control.frames.some((f) => JSON.stringify(f.data ?? null).includes('23')));
    await settle(300);
    for (const s of sockets) expect(s.frames).toEqual([]);
    for (const s of [control, ...sockets]) s.close();
  });

  it('A’s stored state changed only by A’s own device report', async () => {
    const after = (await w.snapshotA()) as Record<string, unknown>;
    const prev = before as Record<string, unknown>;
    expect({ ...after, latest: null, points: null, attributes: null }).toEqual({ ...prev, latest: null, points: null, attributes: null });
  });
});
