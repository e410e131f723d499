import { describe, expect, it } from 'vitest';
import { api, eventually, startSuiteServer } from './test-helpers';

/**
 * A tenant's or customer's server attributes saved over ThingsBoard's REST paths
 * (`POST /api/plugins/telemetry/TENANT/{tenantId}/attributes/SERVER_SCOPE`, `.../CUSTOMER/{id}/...`)
 * reach the device profile node of the default root chain as ATTRIBUTES_UPDATED / ATTRIBUTES_DELETED
 * from the TENANT or CUSTOMER, and move a dynamic alarm threshold (CURRENT_TENANT,
 * CURRENT_CUSTOMER) of a device that already has its state cached. Real
 * PostgreSQL, the whole server, a real MQTT device (mqtt.js).
 */
describe('tenant and customer attributes over REST drive dynamic alarm thresholds', () => {
  const server = startSuiteServer({ database: 'tenant_attr_alarms', env: { RIVULET_LOG_LEVEL: process.env.DBG_LOG ?? 'silent' } });

  type Source = 'CURRENT_TENANT' | 'CURRENT_CUSTOMER';
  const temperature = (operation: string, sourceType: Source) => ({
    key: { type: 'TIME_SERIES', key: 'temperature' },
    valueType: 'NUMERIC',
    predicate: { type: 'NUMERIC', operation, value: { defaultValue: 100, userValue: null, dynamicValue: { sourceType, sourceAttribute: 'maxTemp', inherit: false } } },
  });

  interface AlarmDto { type: string; severity: string; status: string }
  const alarmsOf = async (deviceId: string) => (await api<{ data: AlarmDto[] }>(server.app.url, server.jwt, `/api/alarm/DEVICE/${deviceId}?pageSize=10&page=0`)).body.data;

  /**
   * `attrs` is the REST prefix of the entity whose maxTemp the profile reads; `assign` puts the device
   * where that value applies (a customer's device) before it reports.
   */
  async function thresholdFollowsRest(sourceType: Source, name: string, attrs: string, assign?: (deviceId: string) => Promise<void>): Promise<void> {
    const profile = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/deviceProfile', {
      method: 'POST',
      body: {
        name,
        profileData: {
          configuration: { type: 'DEFAULT' },
          transportConfiguration: { type: 'DEFAULT' },
          provisionConfiguration: { type: 'DISABLED', provisionDeviceSecret: null },
          alarms: [
            {
              id: 'hot',
              alarmType: 'Too Hot',
              createRules: { CRITICAL: { condition: { condition: [temperature('GREATER', sourceType)], spec: { type: 'SIMPLE' } }, schedule: null, alarmDetails: null, dashboardId: null } },
              clearRule: { condition: { condition: [temperature('LESS_OR_EQUAL', sourceType)], spec: { type: 'SIMPLE' } }, schedule: null, alarmDetails: null, dashboardId: null },
              propagate: false,
              propagateRelationTypes: null,
            },
          ],
        },
      },
    });
    expect(profile.status, JSON.stringify(profile.body)).toBe(200);
    expect((await api(server.app.url, server.jwt, `${attrs}/attributes/SERVER_SCOPE`, { method: 'POST', body: { maxTemp: 80 } })).status).toBe(200);

    const d = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/device', { method: 'POST', body: { name: `${name}-kiln`, deviceProfileId: { entityType: 'DEVICE_PROFILE', id: profile.body.id.id } } });
    expect(d.status).toBe(200);
    const deviceId = d.body.id.id;
    await assign?.(deviceId);
    const token = (await api<{ credentialsId: string }>(server.app.url, server.jwt, `/api/device/${deviceId}/credentials`)).body.credentialsId;
    const mqtt = await server.connectMqtt({ username: token });
    const send = async (t: number) => {
      await mqtt.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: t }), { qos: 1 });
      // stored by the rest of the root chain, so the device profile node has seen it
      await eventually(async () => (await server.app.storage.timeseries.findLatest(deviceId, ['temperature']))[0]?.value === t);
    };

    // 50 under the entity's 80: no alarm, and the node now holds the device's state (with maxTemp 80)
    await send(50);
    await new Promise((r) => setTimeout(r, 300));
    expect(await alarmsOf(deviceId)).toEqual([]);

    // maxTemp 40 over REST: only the TENANT / CUSTOMER event can tell the cached state
    expect((await api(server.app.url, server.jwt, `${attrs}/attributes/SERVER_SCOPE`, { method: 'POST', body: { maxTemp: 40 } })).status).toBe(200);
    const raised = await eventually(async () => {
      await send(51);
      return (await alarmsOf(deviceId)).find((a) => a.status === 'ACTIVE_UNACK');
    });
    expect(raised).toMatchObject({ type: 'Too Hot', severity: 'CRITICAL' });

    // deleted: the default 100 again, and 52 clears the alarm
    expect((await api(server.app.url, server.jwt, `${attrs}/SERVER_SCOPE?keys=maxTemp`, { method: 'DELETE' })).status).toBe(200);
    const cleared = await eventually(async () => {
      await send(52);
      return (await alarmsOf(deviceId)).find((a) => a.status === 'CLEARED_UNACK');
    });
    expect(cleared).toMatchObject({ type: 'Too Hot' });
  }

  it('tenant: lowering maxTemp raises the alarm at a reading that did not before; deleting it falls back to the default and clears it', async () => {
    await thresholdFollowsRest('CURRENT_TENANT', 'tenant-threshold', `/api/plugins/telemetry/TENANT/${server.app.tenantId}`);
  });

  it("customer: the same with the device's customer's maxTemp, saved and deleted over REST", async () => {
    const c = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/customer', { method: 'POST', body: { title: 'Kiln Owners' } });
    expect(c.status).toBe(200);
    const customerId = c.body.id.id;
    await thresholdFollowsRest('CURRENT_CUSTOMER', 'customer-threshold', `/api/plugins/telemetry/CUSTOMER/${customerId}`, async (deviceId) => {
      expect((await api(server.app.url, server.jwt, `/api/customer/${customerId}/device/${deviceId}`, { method: 'POST' })).status).toBe(200);
    });
  });
});
