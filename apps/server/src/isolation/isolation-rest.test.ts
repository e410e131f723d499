import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../test-helpers';
import { settle, startIsolationWorld, type IsolationWorld } from './isolation-fixture';

/**
 * Isolation matrix, REST surface (issue #12): every endpoint that takes an id, called by tenant B
 * with tenant A's ids, answers 403 or 404 and changes nothing of A's (stored data, alarms, chains,
 * dashboards, and A's live MQTT session receives nothing). Lists answer 200 without A's entities.
 */
type Probe = { method: 'GET' | 'POST' | 'DELETE'; path: string; body?: unknown };
type A = IsolationWorld['a'];

/** Endpoints aimed at one of A's entities: denied (403/404). Add rows as endpoints are added. */
const denied = (a: A, b: IsolationWorld['b']): Probe[] => {
  const tel = `/api/plugins/telemetry/DEVICE/${a.deviceId}`;
  return [
    // devices
    { method: 'GET', path: `/api/device/${a.deviceId}` },
    { method: 'DELETE', path: `/api/device/${a.deviceId}` },
    { method: 'POST', path: '/api/device', body: { id: { entityType: 'DEVICE', id: a.deviceId }, name: 'stolen', type: 'x' } },
    { method: 'GET', path: `/api/device/${a.deviceId}/credentials` },
    { method: 'POST', path: '/api/device/credentials', body: { deviceId: { entityType: 'DEVICE', id: a.deviceId }, credentialsType: 'ACCESS_TOKEN', credentialsId: 'b-owns-this' } },
    { method: 'GET', path: `/api/tenant/devices?deviceName=${a.deviceName}` },
    { method: 'GET', path: `/api/device-connectivity/${a.deviceId}` },
    { method: 'GET', path: `/api/device/info/${a.deviceId}` },
    // telemetry and attributes
    { method: 'GET', path: `${tel}/keys/timeseries` },
    { method: 'GET', path: `${tel}/values/timeseries?keys=temperature` },
    { method: 'GET', path: `${tel}/values/timeseries?keys=temperature&startTs=0&endTs=9999999999999` },
    { method: 'GET', path: `${tel}/keys/attributes` },
    { method: 'GET', path: `${tel}/keys/attributes/SERVER_SCOPE` },
    { method: 'GET', path: `${tel}/values/attributes` },
    { method: 'GET', path: `${tel}/values/attributes/SHARED_SCOPE` },
    { method: 'POST', path: `${tel}/attributes/SHARED_SCOPE`, body: { setpoint: 99 } },
    { method: 'POST', path: `${tel}/SERVER_SCOPE`, body: { location: 'attacker' } },
    { method: 'DELETE', path: `${tel}/SERVER_SCOPE?keys=location` },
    // ThingsBoard's device-only attribute paths
    { method: 'POST', path: `/api/plugins/telemetry/${a.deviceId}/SHARED_SCOPE`, body: { setpoint: 99 } },
    { method: 'DELETE', path: `/api/plugins/telemetry/${a.deviceId}/SHARED_SCOPE?keys=setpoint` },
    { method: 'DELETE', path: `${tel}/timeseries/delete?keys=temperature&startTs=0&endTs=9999999999999&deleteLatest=true&rewriteLatestIfDeleted=true` },
    { method: 'POST', path: `${tel}/timeseries/ANY`, body: { temperature: 999 } },
    { method: 'POST', path: `${tel}/timeseries/ANY/60`, body: { temperature: 999 } },
    { method: 'DELETE', path: `${tel}/timeseries/delete?keys=temperature&deleteAllDataForKeys=true` },
    // RPC (A's device is online: a leak would reach its MQTT session)
    { method: 'POST', path: `/api/rpc/oneway/${a.deviceId}`, body: { method: 'factoryReset', params: {} } },
    { method: 'POST', path: `/api/rpc/twoway/${a.deviceId}`, body: { method: 'factoryReset', params: {}, timeout: 1000 } },
    { method: 'POST', path: `/api/plugins/rpc/oneway/${a.deviceId}`, body: { method: 'factoryReset', params: {} } },
    { method: 'POST', path: `/api/plugins/rpc/twoway/${a.deviceId}`, body: { method: 'factoryReset', params: {}, timeout: 1000 } },
    // alarms
    { method: 'GET', path: `/api/alarm/${a.alarmId}` },
    { method: 'GET', path: `/api/alarm/info/${a.alarmId}` },
    { method: 'POST', path: `/api/alarm/${a.alarmId}/ack` },
    { method: 'POST', path: `/api/alarm/${a.alarmId}/clear` },
    { method: 'DELETE', path: `/api/alarm/${a.alarmId}` },
    { method: 'GET', path: `/api/alarm/DEVICE/${a.deviceId}` },
    { method: 'POST', path: '/api/alarm', body: { type: 'Fake', severity: 'CRITICAL', originator: { entityType: 'DEVICE', id: a.deviceId } } },
    { method: 'POST', path: '/api/alarm', body: { id: { entityType: 'ALARM', id: a.alarmId }, type: 'Overheat', severity: 'CRITICAL', originator: { entityType: 'DEVICE', id: b.deviceId } } },
    { method: 'POST', path: '/api/alarm', body: { type: 'Fake', severity: 'CRITICAL', originator: { entityType: 'TENANT', id: a.tenantId } } },
    // rule chains, their debug events and test runs
    { method: 'GET', path: `/api/ruleChain/${a.chainId}` },
    { method: 'DELETE', path: `/api/ruleChain/${a.chainId}` },
    { method: 'GET', path: `/api/ruleChain/${a.chainId}/metadata` },
    { method: 'POST', path: '/api/ruleChain', body: { id: { entityType: 'RULE_CHAIN', id: a.chainId }, name: 'hijacked' } },
    { method: 'POST', path: '/api/ruleChain/metadata', body: { ruleChainId: { entityType: 'RULE_CHAIN', id: a.chainId }, nodes: [], connections: [] } },
    { method: 'POST', path: `/api/ruleChain/${a.chainId}/root` },
    { method: 'GET', path: `/api/ruleChain/${a.chainId}/export` },
    { method: 'GET', path: `/api/ruleChain/${a.chainId}/stats` },
    { method: 'GET', path: `/api/ruleChain/${a.chainId}/node/0/debug` },
    { method: 'POST', path: `/api/ruleChain/${a.chainId}/node/0/debug`, body: { enabled: true } },
    { method: 'POST', path: '/api/ruleChain/testRun', body: { chainId: { entityType: 'RULE_CHAIN', id: a.chainId }, msg: { type: 'X', data: {} } } },
    // dashboards
    { method: 'GET', path: `/api/dashboard/${a.dashboardId}` },
    { method: 'GET', path: `/api/dashboard/info/${a.dashboardId}` },
    { method: 'DELETE', path: `/api/dashboard/${a.dashboardId}` },
    { method: 'POST', path: '/api/dashboard', body: { id: { entityType: 'DASHBOARD', id: a.dashboardId }, title: 'defaced' } },
  ];
};

/**
 * A's device profiles, aimed at by another tenant's callers (a customer user of A's own tenant may
 * read A's profile infos, as in ThingsBoard, so these are not in `denied`).
 */
const deniedToOtherTenants = (a: A): Probe[] => [
  { method: 'GET', path: `/api/deviceProfile/${a.deviceProfileId}` },
  { method: 'GET', path: `/api/deviceProfileInfo/${a.deviceProfileId}` },
  { method: 'DELETE', path: `/api/deviceProfile/${a.deviceProfileId}` },
  { method: 'POST', path: `/api/deviceProfile/${a.deviceProfileId}/default` },
  { method: 'POST', path: '/api/deviceProfile', body: { id: { entityType: 'DEVICE_PROFILE', id: a.deviceProfileId }, name: 'hijacked' } },
  { method: 'POST', path: '/api/deviceProfile', body: { name: 'routes into A', defaultRuleChainId: { entityType: 'RULE_CHAIN', id: a.chainId } } },
  { method: 'POST', path: '/api/device', body: { name: 'on A profile', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: a.deviceProfileId } } },
];

/** Lists of the caller's own tenant: 200, and none of A's ids in them. */
const lists: Probe[] = [
  { method: 'GET', path: '/api/tenant/devices?pageSize=100&page=0' },
  { method: 'GET', path: '/api/tenant/deviceInfos?pageSize=100&page=0' },
  { method: 'GET', path: '/api/deviceProfiles?pageSize=100&page=0' },
  { method: 'GET', path: '/api/deviceProfileInfos?pageSize=100&page=0' },
  { method: 'GET', path: '/api/alarms?pageSize=100&page=0' },
  { method: 'GET', path: '/api/ruleChains?pageSize=100&page=0' },
  { method: 'GET', path: '/api/tenant/dashboards?pageSize=100&page=0' },
];

describe('isolation matrix: REST', () => {
  let w: IsolationWorld;
  let before: unknown;
  beforeAll(async () => {
    w = await startIsolationWorld('rest');
    before = await w.snapshotA();
    // The world really holds A's data (an unchanged empty state would prove nothing).
    expect(before).toMatchObject({ latest: [{ key: 'temperature' }], alarms: [{ type: 'Overheat', cleared: false }], points: 1 });
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  it('every endpoint aimed at tenant A’s entities answers 403/404 to every other caller', async () => {
    const leaks: string[] = [];
    for (const caller of [...w.callers, ...w.customerCallers]) {
      for (const p of denied(w.a, w.b)) {
        const r = await api(w.app.url, caller.jwt, p.path, { method: p.method, ...(p.body === undefined ? {} : { body: p.body }) });
        if (r.status !== 403 && r.status !== 404) leaks.push(`${caller.name}: ${p.method} ${p.path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('A’s device profiles answer 403/404 to callers of other tenants', async () => {
    const leaks: string[] = [];
    for (const caller of [...w.callers, ...w.customerCallers.filter((c) => c.tenantId !== w.a.tenantId)]) {
      for (const p of deniedToOtherTenants(w.a)) {
        const r = await api(w.app.url, caller.jwt, p.path, { method: p.method, ...(p.body === undefined ? {} : { body: p.body }) });
        if (r.status !== 403 && r.status !== 404) leaks.push(`${caller.name}: ${p.method} ${p.path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('lists answer 200 without any of tenant A’s ids', async () => {
    for (const caller of w.callers) {
      for (const p of lists) {
        const r = await api(w.app.url, caller.jwt, p.path);
        expect(r.status, `${caller.name}: ${p.path}`).toBe(200);
        const text = JSON.stringify(r.body);
        for (const id of [w.a.deviceId, w.a.alarmId, w.a.chainId, w.a.dashboardId, w.a.tenantId, w.a.deviceProfileId]) expect(text, `${caller.name}: ${p.path}`).not.toContain(id);
      }
    }
  });

  it('B cannot take over A’s device token with its own device', async () => {
    const r = await api(w.app.url, w.b.jwt, '/api/device/credentials', {
      method: 'POST',
      body: { deviceId: { entityType: 'DEVICE', id: w.b.deviceId }, credentialsType: 'ACCESS_TOKEN', credentialsId: w.a.token },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });

  it('after all of it, A’s stored state is unchanged and A’s MQTT session received nothing', async () => {
    await settle(500);
    expect(await w.snapshotA()).toEqual(before);
    expect(w.received).toEqual([]);
  });
});
