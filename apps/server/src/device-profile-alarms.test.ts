import { connectAsync, type MqttClient } from 'mqtt';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, eventually, login, startTestServer, tempDir } from './test-helpers';

/**
 * Device profile alarm rules end to end (issue #14): the default root chain starts with the device
 * profile node, as ThingsBoard's does; a profile says "temperature > 30 for 10 s raises a CRITICAL
 * alarm, temperature <= 30 clears it"; a real MQTT device reports, and the alarm is read over REST.
 * Real PostgreSQL, the whole server in this process.
 */
describe('device profile alarm rules through the whole server', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  const dir = tempDir();
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('profile_alarms');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_LOG_LEVEL: process.env.DBG_LOG ?? 'silent' });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  const temperatureRule = (operation: string) => ({
    key: { type: 'TIME_SERIES', key: 'temperature' },
    valueType: 'NUMERIC',
    predicate: { type: 'NUMERIC', operation, value: { defaultValue: 30, userValue: null, dynamicValue: null } },
  });

  /** A profile in ThingsBoard's shape (made through storage: the device profile REST API is another part of the issue), and a device on it. */
  async function deviceOnThermostatProfile(name: string): Promise<{ id: string; token: string }> {
    const profile = await app.storage.deviceProfiles.create(app.tenantId, {
      name: `thermostat ${name}`,
      profileData: {
        configuration: { type: 'DEFAULT' },
        transportConfiguration: { type: 'DEFAULT' },
        alarms: [
          {
            id: 'high-temperature',
            alarmType: 'High Temperature',
            createRules: {
              CRITICAL: { condition: { condition: [temperatureRule('GREATER')], spec: { type: 'DURATION', unit: 'SECONDS', predicate: { defaultValue: 10, userValue: null, dynamicValue: null } } }, schedule: null, alarmDetails: 'Temperature ${temperature}', dashboardId: null },
            },
            clearRule: { condition: { condition: [temperatureRule('LESS_OR_EQUAL')], spec: { type: 'SIMPLE' } }, schedule: null, alarmDetails: null, dashboardId: null },
            propagate: false,
            propagateRelationTypes: null,
          },
        ],
      },
    });
    return deviceOfProfile(name, profile.name);
  }

  /** A device made over REST whose type is the profile's name: it is on that profile (ThingsBoard's type -> profile). */
  async function deviceOfProfile(name: string, profileName: string): Promise<{ id: string; token: string }> {
    const d = await api<{ id: { id: string }; deviceProfileId: { id: string } }>(app.url, jwt, '/api/device', { method: 'POST', body: { name, type: profileName } });
    expect(d.status).toBe(200);
    const c = await api<{ credentialsId: string }>(app.url, jwt, `/api/device/${d.body.id.id}/credentials`);
    return { id: d.body.id.id, token: c.body.credentialsId };
  }

  interface AlarmDto {
    type: string;
    severity: string;
    status: string;
    startTs: number;
    details: unknown;
    originator: { entityType: string; id: string };
  }
  const alarmsOf = async (deviceId: string) => (await api<{ data: AlarmDto[] }>(app.url, jwt, `/api/alarm/DEVICE/${deviceId}?pageSize=10&page=0`)).body.data;

  it('temperature 35 over MQTT: no alarm before 10 s, an ACTIVE CRITICAL alarm after; then 25 clears it', async () => {
    const d = await deviceOnThermostatProfile('boiler-1');
    const mqtt = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: d.token, reconnectPeriod: 0 });
    clients.push(mqtt);
    const send = (temperature: number) => mqtt.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature }), { qos: 1 });

    // Each message is stamped when the server takes it (not before t0): whatever was evaluated by a
    // time under t0 + 10 s has held for less than 10 s, so no alarm may exist yet.
    const t0 = Date.now();
    let raised: AlarmDto | undefined;
    while (!raised) {
      const elapsed = Date.now() - t0;
      const alarms = await alarmsOf(d.id);
      if (elapsed < 10_000) expect(alarms, `an alarm after ${elapsed} ms`).toEqual([]);
      else raised = alarms.find((a) => a.status === 'ACTIVE_UNACK');
      if (elapsed > 25_000) throw new Error(`no alarm ${elapsed} ms after the first hot reading`);
      if (!raised) {
        await send(35);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
    expect(raised).toMatchObject({ type: 'High Temperature', severity: 'CRITICAL', status: 'ACTIVE_UNACK', originator: { entityType: 'DEVICE', id: d.id }, details: { data: 'Temperature 35' } });
    expect(raised.startTs - t0).toBeGreaterThan(10_000);
    // The telemetry still went on to storage through the rest of the root chain.
    expect(await app.storage.timeseries.findLatest(d.id, ['temperature'])).toEqual([expect.objectContaining({ key: 'temperature', value: 35 })]);

    await send(25);
    const cleared = await eventually(async () => (await alarmsOf(d.id)).find((a) => a.status === 'CLEARED_UNACK'));
    expect(cleared).toMatchObject({ type: 'High Temperature', severity: 'CRITICAL' });
    expect(await alarmsOf(d.id)).toHaveLength(1);
    // Listed among the tenant's alarms too.
    const all = await api<{ data: AlarmDto[] }>(app.url, jwt, '/api/alarms?pageSize=50&page=0');
    expect(all.body.data.filter((a) => a.originator.id === d.id).map((a) => a.status)).toEqual(['CLEARED_UNACK']);
  }, 60_000);

  it('a device on a profile whose rules Rivulet cannot evaluate: its messages fail with the reason (dead letters), nothing is raised', async () => {
    const profile = await app.storage.deviceProfiles.create(app.tenantId, {
      name: 'customer thresholds',
      profileData: {
        alarms: [
          {
            id: 'a',
            alarmType: 'Too hot',
            createRules: {
              MAJOR: { condition: { condition: [{ ...temperatureRule('GREATER'), predicate: { type: 'NUMERIC', operation: 'GREATER', value: { defaultValue: 30, dynamicValue: { sourceType: 'CURRENT_CUSTOMER', sourceAttribute: 'maxTemp' } } } }] } },
            },
          },
        ],
      },
    });
    const d = await deviceOfProfile('customer-threshold-device', profile.name);
    const mqtt = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: d.token, reconnectPeriod: 0 });
    clients.push(mqtt);
    await mqtt.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 99 }), { qos: 1 });
    const letter = await eventually(async () => app.deadLetters!.list({ tenantId: app.tenantId }).find((l) => l.deadLetter?.msg.originator.id === d.id), 30_000);
    expect(letter.deadLetter!.error).toMatch(/Device profile "customer thresholds": profileData\.alarms\[0\].*CURRENT_CUSTOMER/);
    expect(await alarmsOf(d.id)).toEqual([]);
  }, 60_000);
});
