import { connectAsync, type MqttClient } from 'mqtt';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, eventually, login, startTestServer, tempDir } from './test-helpers';

/**
 * A tenant's server attributes saved over ThingsBoard's REST path
 * (`POST /api/plugins/telemetry/TENANT/{tenantId}/attributes/SERVER_SCOPE`) reach the device profile
 * node of the default root chain as ATTRIBUTES_UPDATED / ATTRIBUTES_DELETED from the TENANT, and move
 * a dynamic alarm threshold (CURRENT_TENANT) of a device that already has its state cached. Real
 * PostgreSQL, the whole server, a real MQTT device (mqtt.js).
 */
describe('tenant attributes over REST drive dynamic alarm thresholds', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  const dir = tempDir();
  let mqtt: MqttClient | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('tenant_attr_alarms');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_LOG_LEVEL: process.env.DBG_LOG ?? 'silent' });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await mqtt?.endAsync(true).catch(() => {});
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  const temperature = (operation: string) => ({
    key: { type: 'TIME_SERIES', key: 'temperature' },
    valueType: 'NUMERIC',
    predicate: { type: 'NUMERIC', operation, value: { defaultValue: 100, userValue: null, dynamicValue: { sourceType: 'CURRENT_TENANT', sourceAttribute: 'maxTemp', inherit: false } } },
  });

  interface AlarmDto { type: string; severity: string; status: string }
  const alarmsOf = async (deviceId: string) => (await api<{ data: AlarmDto[] }>(app.url, jwt, `/api/alarm/DEVICE/${deviceId}?pageSize=10&page=0`)).body.data;

  it('lowering maxTemp raises the alarm at a reading that did not before; deleting it falls back to the default and clears it', async () => {
    const tenantAttrs = `/api/plugins/telemetry/TENANT/${app.tenantId}`;
    const profile = await api<{ id: { id: string } }>(app.url, jwt, '/api/deviceProfile', {
      method: 'POST',
      body: {
        name: 'tenant-threshold',
        profileData: {
          configuration: { type: 'DEFAULT' },
          transportConfiguration: { type: 'DEFAULT' },
          provisionConfiguration: { type: 'DISABLED', provisionDeviceSecret: null },
          alarms: [
            {
              id: 'hot',
              alarmType: 'Too Hot',
              createRules: { CRITICAL: { condition: { condition: [temperature('GREATER')], spec: { type: 'SIMPLE' } }, schedule: null, alarmDetails: null, dashboardId: null } },
              clearRule: { condition: { condition: [temperature('LESS_OR_EQUAL')], spec: { type: 'SIMPLE' } }, schedule: null, alarmDetails: null, dashboardId: null },
              propagate: false,
              propagateRelationTypes: null,
            },
          ],
        },
      },
    });
    expect(profile.status, JSON.stringify(profile.body)).toBe(200);
    expect((await api(app.url, jwt, `${tenantAttrs}/attributes/SERVER_SCOPE`, { method: 'POST', body: { maxTemp: 80 } })).status).toBe(200);

    const d = await api<{ id: { id: string } }>(app.url, jwt, '/api/device', { method: 'POST', body: { name: 'kiln-1', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: profile.body.id.id } } });
    expect(d.status).toBe(200);
    const deviceId = d.body.id.id;
    const token = (await api<{ credentialsId: string }>(app.url, jwt, `/api/device/${deviceId}/credentials`)).body.credentialsId;
    mqtt = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: token, reconnectPeriod: 0 });
    const send = async (t: number) => {
      await mqtt!.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: t }), { qos: 1 });
      // stored by the rest of the root chain, so the device profile node has seen it
      await eventually(async () => (await app.storage.timeseries.findLatest(deviceId, ['temperature']))[0]?.value === t);
    };

    // 50 under the tenant's 80: no alarm, and the node now holds the device's state (with maxTemp 80)
    await send(50);
    await new Promise((r) => setTimeout(r, 300));
    expect(await alarmsOf(deviceId)).toEqual([]);

    // maxTemp 40 over REST: only the TENANT event can tell the cached state
    expect((await api(app.url, jwt, `${tenantAttrs}/attributes/SERVER_SCOPE`, { method: 'POST', body: { maxTemp: 40 } })).status).toBe(200);
    const raised = await eventually(async () => {
      await send(51);
      return (await alarmsOf(deviceId)).find((a) => a.status === 'ACTIVE_UNACK');
    });
    expect(raised).toMatchObject({ type: 'Too Hot', severity: 'CRITICAL' });

    // deleted: the default 100 again, and 52 clears the alarm
    expect((await api(app.url, jwt, `${tenantAttrs}/SERVER_SCOPE?keys=maxTemp`, { method: 'DELETE' })).status).toBe(200);
    const cleared = await eventually(async () => {
      await send(52);
      return (await alarmsOf(deviceId)).find((a) => a.status === 'CLEARED_UNACK');
    });
    expect(cleared).toMatchObject({ type: 'Too Hot' });
  });
});
