/**
 * ThingsBoard's documented CoAP commands, run through a shell against the transport with libcoap's
 * real client. Debian ships it as coap-client-notls; a two-line `coap-client` script on PATH stands
 * in for it, so the commands read as the docs print them (only the port differs: the tests listen on
 * a free one, so the host variables carry it). libcoap exits 0 even on failure: the tests check
 * what it printed and what reached the queue.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DeviceChannel, RpcChannel } from '@rivulet/broadcast';
import { AttributeScope, MsgType, type AttributesEvent, type ToDeviceRpcRequest } from '@rivulet/core';
import { DEVICE, NOW, TOKEN, closeAll, startTransport, waitForConsumed, type Harness } from './test-harness';

import {
  TEST_DOUBLE_PROVISION_KEY,
  TEST_DOUBLE_PROVISION_SECRET,
  createClaimingTestDouble,
  createProvisioningTestDouble,
} from '@rivulet/transport-service/testing';
const execFileP = promisify(execFile);

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    // our own process group (started detached below), by its id
    if (c.exitCode === null && c.pid !== undefined) process.kill(-c.pid, 'SIGTERM');
  }
  await closeAll();
});

let binDir = '';
beforeAll(async () => {
  binDir = await mkdtemp(join(tmpdir(), 'rivulet-coap-bin-'));
  // -B 5: libcoap waits at most 5 s for an answer, so a broken server fails a test instead of hanging it
  await writeFile(join(binDir, 'coap-client'), '#!/bin/sh\nexec coap-client-notls -B 5 "$@"\n');
  await chmod(join(binDir, 'coap-client'), 0o755);
});
afterAll(() => rm(binDir, { recursive: true, force: true }));

function env(h: Harness): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${binDir}:${process.env.PATH ?? ''}`,
    THINGSBOARD_HOST_NAME: `127.0.0.1:${h.port}`,
    THINGSBOARD_HOST: '127.0.0.1',
    COAP_PORT: String(h.port),
    ACCESS_TOKEN: TOKEN,
  };
}

async function shell(h: Harness, command: string, cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return execFileP('sh', ['-c', command], { cwd, env: env(h), timeout: 15_000 });
}

/** A long-running command (observe): its output so far, and the process to stop. */
function background(h: Harness, command: string): { output: () => string; child: ChildProcess } {
  const child = spawn('sh', ['-c', command], { env: env(h), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return { output: () => out, child };
}

async function inDir<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'rivulet-coap-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('telemetry and attributes with coap-client, as ThingsBoard documents them', () => {
  it('getting started: -e "{"temperature":25}" (the shell strips the quotes: {temperature:25} arrives)', async () => {
    const h = await startTransport();
    const { stdout, stderr } = await shell(h, 'coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry -t json -e "{"temperature":25}"');
    expect(stdout + stderr).toBe('');
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.POST_TELEMETRY_REQUEST, ts: NOW, originator: { id: DEVICE.deviceId } });
    expect(m?.data).toEqual({ temperature: 25 });
  });

  it("the same with single quotes: -e '{\"temperature\":25}'", async () => {
    const h = await startTransport();
    await shell(h, `coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry -t json -e '{"temperature":25}'`);
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ temperature: 25 });
  });

  it('reference: -v 6 -m POST -t "application/json", a flat object, {ts, values} and an array of them', async () => {
    const h = await startTransport();
    const url = '"coap://$THINGSBOARD_HOST:$COAP_PORT/api/v1/$ACCESS_TOKEN/telemetry"';
    await shell(h, `coap-client -v 6 -m POST -t "application/json" -e '{"temperature":42,"humidity":73}' ${url}`);
    await shell(h, `coap-client -v 6 -m POST -t "application/json" -e '{"ts":1451649600512,"values":{"temperature":42,"humidity":73}}' ${url}`);
    await shell(
      h,
      `coap-client -v 6 -m POST -t "application/json" -e '[{"ts":1451649600512,"values":{"temperature":42,"humidity":73}},{"ts":1451649601000,"values":{"temperature":43,"humidity":72}}]' ${url}`,
    );
    const msgs = await waitForConsumed(h, 4);
    expect(msgs.map((m) => [m.ts, m.data])).toEqual([
      [NOW, { temperature: 42, humidity: 73 }],
      [1451649600512, { temperature: 42, humidity: 73 }],
      [1451649600512, { temperature: 42, humidity: 73 }],
      [1451649601000, { temperature: 43, humidity: 72 }],
    ]);
  });

  it('from a file: -f telemetry-data.json', async () => {
    const h = await startTransport();
    await inDir({ 'telemetry-data.json': '{"temperature":21, "humidity":55.0, "active": false}' }, (dir) =>
      shell(h, 'coap-client -f telemetry-data.json -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry', dir),
    );
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ temperature: 21, humidity: 55, active: false });
  });

  it('client attributes, shell-stripped: -e "{"attribute1": "value1", "attribute2": true}"', async () => {
    const h = await startTransport();
    await shell(h, 'coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes -t json -e "{"attribute1": "value1", "attribute2": true}"');
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.POST_ATTRIBUTES_REQUEST });
    expect(m?.data).toEqual({ attribute1: 'value1', attribute2: true });
  });

  it('attribute request: -m get "...attributes?clientKeys=attribute1,attribute2&sharedKeys=shared1,shared2"', async () => {
    const h = await startTransport();
    const { stdout } = await shell(
      h,
      'coap-client -m get "coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes?clientKeys=attribute1,attribute2&sharedKeys=shared1,shared2"',
    );
    expect(JSON.parse(stdout)).toEqual({ client: { attribute1: 'value1', attribute2: true }, shared: { shared1: 'value2', shared2: false } });
  });

  it('errors print as libcoap shows them: 4.01 for a wrong token, 4.00 for a payload that is not JSON', async () => {
    const h = await startTransport();
    const bad = await shell(h, `coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/WRONG/telemetry -t json -e '{"temperature":25}'`);
    expect(bad.stderr).toContain('4.01 Authentication failed: invalid device access token');
    const malformed = await shell(h, `coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry -e '{"temperature":'`);
    expect(malformed.stderr).toMatch(/^4\.00 /);
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  it('block-wise: a 3 KB payload in 64-byte blocks (-b 64) arrives whole; an answer over 1 KB comes back block-wise', async () => {
    const h = await startTransport();
    const note = 'n'.repeat(3000);
    await shell(h, `coap-client -b 64 -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry -t json -e '{"note":"${note}"}'`);
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ note });
    h.attributes.set(DEVICE.deviceId, { client: { big: 'b'.repeat(2500) }, shared: {} });
    const { stdout } = await shell(h, 'coap-client -m get coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes');
    expect(JSON.parse(stdout)).toEqual({ client: { big: 'b'.repeat(2500) } });
  });

  it('a payload over the limit gets 4.13', async () => {
    const h = await startTransport();
    const { stderr } = await shell(h, `coap-client -b 512 -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/telemetry -e '{"k":"${'x'.repeat(5000)}"}'`);
    expect(stderr).toMatch(/4\.13 Payload too large/);
    expect(h.queue.produceCalls).toHaveLength(0);
  });
});

describe('observe and RPC with coap-client', () => {
  it('subscribe to shared attributes: -m get .../attributes -s 100 -B 100 prints the current values, then each update', async () => {
    const h = await startTransport();
    const sub = background(h, 'coap-client -m get coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes -s 100 -B 100');
    await vi.waitFor(() => expect(sub.output()).toContain('"interval":60'), { timeout: 5000 });
    await vi.waitFor(() => expect(h.transport.stats().observations).toBe(1));
    const ev: AttributesEvent = { entityId: DEVICE.deviceId, scope: AttributeScope.SHARED_SCOPE, values: [{ key: 'targetTemperature', value: 19.5, lastUpdateTs: NOW }] };
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, ev);
    await vi.waitFor(() => expect(sub.output()).toContain('{"targetTemperature":19.5}'), { timeout: 5000 });
  });

  it('server-side RPC: -m get .../rpc -s 100 -B 100 prints the command; -f rpc-response.json -m post .../rpc/1 answers it', async () => {
    const h = await startTransport();
    const responses = h.published(RpcChannel.TO_DEVICE_RESPONSE);
    const sub = background(h, 'coap-client -m get coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc -s 100 -B 100');
    await vi.waitFor(() => expect(h.transport.stats().observations).toBe(1), { timeout: 5000 });
    const request: ToDeviceRpcRequest = {
      requestId: 'rest-call-1',
      tenantId: DEVICE.tenantId,
      deviceId: DEVICE.deviceId,
      method: 'setGpio',
      params: { pin: 23, value: 1 },
      oneway: false,
      expirationTime: Date.now() + 30_000,
    };
    h.broadcast.publish(RpcChannel.TO_DEVICE, request);
    await vi.waitFor(() => expect(sub.output()).toContain('{"id":1,"method":"setGpio","params":{"pin":23,"value":1}}'), { timeout: 5000 });
    await inDir({ 'rpc-response.json': '{"pin": 23, "value": 1}' }, (dir) =>
      shell(h, 'coap-client -f rpc-response.json -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc/1', dir),
    );
    expect(responses).toEqual([
      { requestId: 'rest-call-1', deviceId: DEVICE.deviceId, delivered: true },
      { requestId: 'rest-call-1', deviceId: DEVICE.deviceId, response: { pin: 23, value: 1 }, delivered: true },
    ]);
  });

  it('client-side RPC: -f rpc-request.json -m post .../rpc prints the rule chain reply', async () => {
    const h = await startTransport();
    const answer = (async () => {
      const [m] = await waitForConsumed(h, 1);
      h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, { deviceId: DEVICE.deviceId, requestId: m?.metadata.requestId ?? '', sessionId: m?.metadata.sessionId, body: { time: '2026-11-25T07:00:00Z' } });
    })();
    const { stdout } = await inDir({ 'rpc-request.json': '{"method": "getCurrentTime", "params": {}}' }, (dir) =>
      shell(h, 'coap-client -f rpc-request.json -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc', dir),
    );
    await answer;
    expect(JSON.parse(stdout)).toEqual({ time: '2026-11-25T07:00:00Z' });
  });
});

describe('provisioning and claiming with coap-client (core services are test doubles)', () => {
  const REQUEST = JSON.stringify({ deviceName: 'new-device', provisionDeviceKey: TEST_DOUBLE_PROVISION_KEY, provisionDeviceSecret: TEST_DOUBLE_PROVISION_SECRET });

  it('POST /api/v1/provision answers ThingsBoard\'s JSON; past the per-address rate 4.29', async () => {
    const provisioning = createProvisioningTestDouble();
    const h = await startTransport({ services: { provisioning, provisionRequestsPerMinute: 2 } });
    const cmd = `coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/provision -t json -e '${REQUEST}'`;
    const first = await shell(h, cmd);
    expect(JSON.parse(first.stdout.trim())).toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: 'token-for-new-device' });
    const refused = await shell(h, `coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/provision -t json -e '{"deviceName":"x","provisionDeviceKey":"guess","provisionDeviceSecret":"guess"}'`);
    expect(JSON.parse(refused.stdout.trim())).toEqual({ status: 'NOT_FOUND', errorMsg: 'Provision data was not found!' });
    const limited = await shell(h, cmd).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${limited.stdout}${limited.stderr}`).toMatch(/4\.29/);
    expect(provisioning.calls.map((c) => c.transport)).toEqual(['COAP', 'COAP']);
  });

  it('POST /api/v1/$ACCESS_TOKEN/claim hands the claim to the claiming service; without one 5.01', async () => {
    const claiming = createClaimingTestDouble();
    const h = await startTransport({ services: { claiming } });
    const ok = await shell(h, `coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/claim -t json -e '{"secretKey":"s3cr3t","durationMs":60000}'`);
    expect(ok.stderr).not.toMatch(/[45]\.\d\d/);
    expect(claiming.calls.map((c) => [c.device.deviceId, c.request])).toEqual([[DEVICE.deviceId, { secretKey: 's3cr3t', durationMs: 60000 }]]);
    const bare = await startTransport({ services: {} });
    const refused = await shell(bare, `coap-client -m post coap://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/claim -e '{}'`).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${refused.stdout}${refused.stderr}`).toMatch(/5\.01/);
  });
});
