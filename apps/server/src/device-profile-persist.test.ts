import { connectAsync, type MqttClient } from 'mqtt';
import { createTestDatabase } from '@rivulet/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, eventually, login, startTestServer, tempDir } from './test-helpers';

/**
 * The device profile node's persistAlarmRulesState across a real restart: the server is stopped and
 * started again on the same PostgreSQL database; a real MQTT device reports in between. The rule is
 * "temperature > 30 for 4 s". The device reports 35 for 2 s before the stop: with persistence the
 * duration counted so far survives and the alarm comes at most ~2 s after the device is back (less
 * when the restart took a while: like ThingsBoard, the time since the last reading counts while the
 * condition held); without it, the count starts again and the alarm takes the full 4 s.
 */
describe('device profile alarm rule state across a server restart', () => {
  const DURATION_MS = 4_000;
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  const profileBody = {
    name: 'persisted-thermostat',
    profileData: {
      configuration: { type: 'DEFAULT' },
      transportConfiguration: { type: 'DEFAULT' },
      provisionConfiguration: { type: 'DISABLED', provisionDeviceSecret: null },
      alarms: [
        {
          id: 'high-temperature',
          alarmType: 'High Temperature',
          createRules: {
            CRITICAL: {
              condition: {
                condition: [{ key: { type: 'TIME_SERIES', key: 'temperature' }, valueType: 'NUMERIC', predicate: { type: 'NUMERIC', operation: 'GREATER', value: { defaultValue: 30, userValue: null, dynamicValue: null } } }],
                spec: { type: 'DURATION', unit: 'SECONDS', predicate: { defaultValue: DURATION_MS / 1000, userValue: null, dynamicValue: null } },
              },
              schedule: null,
              alarmDetails: null,
              dashboardId: null,
            },
          },
          clearRule: null,
          propagate: false,
          propagateRelationTypes: null,
        },
      ],
    },
  };

  /** Sets persistAlarmRulesState in the root chain's device profile node (as a user edits it in the chain editor). */
  async function setPersist(app: Rivulet, jwt: string, persist: boolean): Promise<void> {
    const chains = await api<{ data: Array<{ id: { id: string }; root: boolean }> }>(app.url, jwt, '/api/ruleChains?pageSize=50&page=0');
    const root = chains.body.data.find((c) => c.root);
    expect(root).toBeDefined();
    const meta = (await api<{ nodes: Array<{ type: string; configuration: Record<string, unknown> }> }>(app.url, jwt, `/api/ruleChain/${root!.id.id}/metadata`)).body;
    const node = meta.nodes.find((n) => n.type.endsWith('TbDeviceProfileNode') || n.type === 'rivulet.action.deviceProfile');
    expect(node, 'the default root chain has a device profile node').toBeDefined();
    node!.configuration = { ...node!.configuration, persistAlarmRulesState: persist, fetchAlarmRulesStateOnStart: false };
    const saved = await api(app.url, jwt, '/api/ruleChain/metadata', { method: 'POST', body: meta });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
  }

  /**
   * Runs the scenario; resolves with how long after the device's first reading after the restart
   * its alarm was created.
   */
  async function scenario(persist: boolean): Promise<{ afterRestartMs: number; beforeStop: unknown[] }> {
    const db = await createTestDatabase(persist ? 'persist_on' : 'persist_off');
    const dir = tempDir();
    cleanups.push(async () => {
      await db.drop();
      dir.remove();
    });
    const env = { DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_LOG_LEVEL: process.env.DBG_LOG ?? 'silent' };
    let app = await startTestServer(env);
    let running: Rivulet | undefined = app;
    cleanups.push(async () => {
      await running?.stop();
    });
    let jwt = await login(app.url);
    await setPersist(app, jwt, persist);
    const profile = await api<{ id: { id: string } }>(app.url, jwt, '/api/deviceProfile', { method: 'POST', body: profileBody });
    expect(profile.status, JSON.stringify(profile.body)).toBe(200);
    const created = await api<{ id: { id: string } }>(app.url, jwt, '/api/device', { method: 'POST', body: { name: 'boiler', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: profile.body.id.id } } });
    expect(created.status).toBe(200);
    const deviceId = created.body.id.id;
    const token = (await api<{ credentialsId: string }>(app.url, jwt, `/api/device/${deviceId}/credentials`)).body.credentialsId;
    const alarms = async () => (await api<{ data: Array<{ type: string; status: string; createdTime: number }> }>(app.url, jwt, `/api/alarm/DEVICE/${deviceId}?pageSize=10&page=0`)).body.data;

    // 2 s of 35 (readings 0, 0.5 ... 2 s): half the duration.
    let mqtt: MqttClient = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: token, reconnectPeriod: 0 });
    const first = Date.now();
    for (;;) {
      await mqtt.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 35 }), { qos: 1 });
      if (Date.now() - first >= 2_000) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    // Every reading went through the chain (the latest value is stored by it).
    await eventually(async () => ((await app.storage.timeseries.findLatest(deviceId, ['temperature']))[0]?.ts ?? 0) >= first);
    await new Promise((r) => setTimeout(r, 300));
    const beforeStop = await alarms();
    await mqtt.endAsync(true);

    // A real restart: the process's server stops, a new one starts on the same database.
    await app.stop();
    running = undefined;
    app = await startTestServer(env);
    running = app;
    jwt = await login(app.url);

    mqtt = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: token, reconnectPeriod: 0 });
    cleanups.push(() => mqtt.endAsync(true));
    const back = Date.now();
    for (;;) {
      await mqtt.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 35 }), { qos: 1 });
      const active = (await alarms()).find((a) => a.status === 'ACTIVE_UNACK');
      if (active) return { afterRestartMs: active.createdTime - back, beforeStop };
      if (Date.now() - back > 3 * DURATION_MS) throw new Error(`no alarm ${Date.now() - back} ms after the restart`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it('persistAlarmRulesState on: the duration counted before the restart is kept (the alarm comes within ~2 s, not 4 s)', async () => {
    const { afterRestartMs, beforeStop } = await scenario(true);
    expect(beforeStop, 'no alarm after 2 s of a 4 s rule').toEqual([]);
    expect(afterRestartMs).toBeLessThan(DURATION_MS / 2 + 1_000);
  }, 60_000);

  it('persistAlarmRulesState off: the count starts again after the restart (the full 4 s)', async () => {
    const { afterRestartMs, beforeStop } = await scenario(false);
    expect(beforeStop).toEqual([]);
    expect(afterRestartMs).toBeGreaterThanOrEqual(DURATION_MS);
  }, 60_000);
});
