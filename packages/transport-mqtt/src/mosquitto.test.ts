import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MsgType } from '@rivulet/core';
import { DEVICE, GATEWAY_TOKEN, TOKEN, closeAll, startTransport, waitForConsumed, type Harness } from './test-harness';

/**
 * ThingsBoard's documented mosquitto commands (thingsboard.io/docs/reference/mqtt-api and
 * gateway-mqtt-api, getting-started), run through `sh -c` as a user pastes them. The only change is
 * where they connect: the host is $THINGSBOARD_HOST_NAME (the docs say to set it), and since the
 * test broker is on a free port rather than 1883, the port comes from mosquitto's own config file
 * ($XDG_CONFIG_HOME/mosquitto_pub, read before the command line); a command that spells out
 * `-p "1883"` has that one literal replaced.
 */
const execFileP = promisify(execFile);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rivulet-mosquitto-'));
  // the data files ThingsBoard's docs download next to the commands
  await writeFile(
    join(dir, 'telemetry-data-as-object.json'),
    '{\n  "stringKey": "value1",\n  "booleanKey": true,\n  "doubleKey": 42.0,\n  "longKey": 73,\n  "jsonKey": {\n    "someNumber": 42,\n    "someArray": [1,2,3],\n    "someNestedObject": {"key": "value"}\n  }\n}\n',
  );
  await writeFile(join(dir, 'telemetry-data-as-array.json'), '[{"key1":"value1"}, {"key2":true}]\n');
  await writeFile(
    join(dir, 'telemetry-data-with-ts.json'),
    '{\n  "ts": 1451649600512,\n  "values": {\n    "stringKey": "value1",\n    "booleanKey": true,\n    "doubleKey": 42.0,\n    "longKey": 73\n  }\n}\n',
  );
  await writeFile(join(dir, 'new-attributes-values.json'), '{\n  "attribute1": "value1",\n  "attribute2": true,\n  "attribute3": 42.0,\n  "attribute4": 73\n}\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(closeAll);

async function configFor(h: Harness): Promise<string> {
  const xdg = join(dir, `xdg-${h.port}`);
  await rm(xdg, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(xdg, { recursive: true }));
  await writeFile(join(xdg, 'mosquitto_pub'), `-p ${h.port}\n`);
  await writeFile(join(xdg, 'mosquitto_sub'), `-p ${h.port}\n`);
  return xdg;
}

async function env(h: Harness, token = TOKEN): Promise<NodeJS.ProcessEnv> {
  return { ...process.env, THINGSBOARD_HOST_NAME: '127.0.0.1', ACCESS_TOKEN: token, XDG_CONFIG_HOME: await configFor(h) };
}

async function sh(h: Harness, command: string, token = TOKEN): Promise<{ stdout: string; stderr: string }> {
  return execFileP('sh', ['-c', command.replace('-p "1883"', `-p "${h.port}"`)], { cwd: dir, env: await env(h, token), timeout: 10_000 });
}

describe('mosquitto_pub, ThingsBoard documented commands', () => {
  it('getting started, shell-stripped: -m {"temperature":25} arrives as {temperature:25} and is queued', async () => {
    const h = await startTransport();
    const { stdout, stderr } = await sh(h, 'mosquitto_pub -d -q 1 -h "$THINGSBOARD_HOST_NAME" -p "1883" -t "v1/devices/me/telemetry" -u "$ACCESS_TOKEN" -m {"temperature":25}');
    const out = stdout + stderr;
    expect(out).toContain("sending PUBLISH (d0, q1, r0, m1, 'v1/devices/me/telemetry', ... (16 bytes))"); // {temperature:25}
    expect(out).toContain('received PUBACK (Mid: 1');
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.POST_TELEMETRY_REQUEST, originator: { id: DEVICE.deviceId }, data: { temperature: 25 } });
  });

  it('telemetry, quoted: -m \'{"temperature":42}\'', async () => {
    const h = await startTransport();
    await sh(h, `mosquitto_pub -d -q 1 -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/telemetry" -u "$ACCESS_TOKEN" -m '{"temperature":42}'`);
    expect((await waitForConsumed(h, 1))[0]?.data).toEqual({ temperature: 42 });
  });

  it('telemetry from the documented files: object, array, with ts', async () => {
    const h = await startTransport();
    await sh(h, 'mosquitto_pub -d -q 1 -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/telemetry" -u "$ACCESS_TOKEN" -f "telemetry-data-as-object.json"');
    await sh(h, 'mosquitto_pub -d -q 1 -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/telemetry" -u "$ACCESS_TOKEN" -f "telemetry-data-as-array.json"');
    await sh(h, 'mosquitto_pub -d -q 1 -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/telemetry" -u "$ACCESS_TOKEN" -f "telemetry-data-with-ts.json"');
    const msgs = await waitForConsumed(h, 4);
    expect(msgs[0]?.data).toEqual({
      stringKey: 'value1',
      booleanKey: true,
      doubleKey: 42,
      longKey: 73,
      jsonKey: { someNumber: 42, someArray: [1, 2, 3], someNestedObject: { key: 'value' } },
    });
    expect(msgs.slice(1, 3).map((m) => m.data)).toEqual([{ key1: 'value1' }, { key2: true }]);
    expect(msgs[3]).toMatchObject({ ts: 1451649600512, data: { stringKey: 'value1', booleanKey: true, doubleKey: 42, longKey: 73 } });
  });

  it('attributes, shell-stripped: -m "{"attribute1": "value1", "attribute2": true}" arrives as {attribute1: value1, attribute2: true}', async () => {
    const h = await startTransport();
    const { stdout, stderr } = await sh(h, 'mosquitto_pub -d -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/attributes" -u "$ACCESS_TOKEN" -m "{"attribute1": "value1", "attribute2": true}"');
    expect(stdout + stderr).toContain("'v1/devices/me/attributes', ... (38 bytes)"); // {attribute1: value1, attribute2: true}
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.POST_ATTRIBUTES_REQUEST, data: { attribute1: 'value1', attribute2: true } });
  });

  it('attributes, quoted and from the documented file', async () => {
    const h = await startTransport();
    await sh(h, `mosquitto_pub -d -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/attributes" -u "$ACCESS_TOKEN" -m '{"attribute1": "value1", "attribute2": true}'`);
    await sh(h, 'mosquitto_pub -d -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/attributes" -u "$ACCESS_TOKEN" -f "new-attributes-values.json"');
    const msgs = await waitForConsumed(h, 2);
    expect(msgs.map((m) => m.data)).toEqual([
      { attribute1: 'value1', attribute2: true },
      { attribute1: 'value1', attribute2: true, attribute3: 42, attribute4: 73 },
    ]);
  });

  it('a wrong token: mosquitto_pub reports "not authorised" (CONNACK 5) and exits non-zero', async () => {
    const h = await startTransport();
    const err = (await sh(h, 'mosquitto_pub -d -q 1 -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/telemetry" -u "$ACCESS_TOKEN" -m {"temperature":25}', 'WRONG').catch(
      (e: unknown) => e,
    )) as { code?: number; stdout: string; stderr: string };
    expect(err.code).not.toBe(0);
    expect(err.stdout + err.stderr).toMatch(/received CONNACK \(5\)|not authori[sz]ed/i);
    expect(h.consumed).toEqual([]);
  });
});

describe('mosquitto_sub, ThingsBoard documented commands', () => {
  it('subscribe to attribute updates: a shared-attribute change arrives', async () => {
    const h = await startTransport();
    // Its own process group: killing only the shell left mosquitto_sub running after the test.
    const child = spawn('sh', ['-c', 'mosquitto_sub -d -h "$THINGSBOARD_HOST_NAME" -t "v1/devices/me/attributes" -u "$ACCESS_TOKEN"'], { cwd: dir, env: await env(h), detached: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // mosquitto_sub's debug lines are block-buffered on a pipe, so its SUBACK cannot be awaited:
      // the change is made again until the subscribed client prints it
      await vi.waitFor(
        () => {
          h.setShared(DEVICE.deviceId, { targetTemperature: 21 });
          expect(out).toContain('{"targetTemperature":21}');
        },
        { timeout: 5000, interval: 100 },
      );
      expect(h.transport.stats().attributeUpdates).toBeGreaterThanOrEqual(1);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });
});

describe('gateway API with mosquitto_pub (gateway-mqtt-api)', () => {
  it('connect, attributes and telemetry for devices behind the gateway', async () => {
    const h = await startTransport();
    // the docs' host "demo.thingsboard.io" is the one thing they say to replace
    await sh(h, `mosquitto_pub -h "$THINGSBOARD_HOST_NAME" -t "v1/gateway/connect" -u "$ACCESS_TOKEN" -m '{"device": "Device A", "type": "Sensor A"}'`, GATEWAY_TOKEN);
    await sh(h, `mosquitto_pub -h "$THINGSBOARD_HOST_NAME" -t "v1/gateway/attributes" -u "$ACCESS_TOKEN" -m \\\n'{"Device A": { "fw_version": "1.0.3", "battery": 87 }}'`, GATEWAY_TOKEN);
    await sh(
      h,
      `mosquitto_pub -h "$THINGSBOARD_HOST_NAME" -t "v1/gateway/telemetry" -u "$ACCESS_TOKEN" -m \\\n'{\n  "Device A": [\n    { "ts": 1700000000000, "values": { "temperature": 23.5, "humidity": 61 } }\n  ]\n}'`,
      GATEWAY_TOKEN,
    );
    await sh(h, `mosquitto_pub -h "$THINGSBOARD_HOST_NAME" -t "v1/gateway/disconnect" -u "$ACCESS_TOKEN" -m '{"device": "Device A"}'`, GATEWAY_TOKEN);
    expect(h.gatewayDevices.get('Device A')).toMatchObject({ deviceType: 'Sensor A' });
    const msgs = await waitForConsumed(h, 2);
    expect(msgs.map((m) => [m.type, m.metadata.deviceName, m.ts === 1700000000000, m.data])).toEqual([
      [MsgType.POST_ATTRIBUTES_REQUEST, 'Device A', false, { fw_version: '1.0.3', battery: 87 }],
      [MsgType.POST_TELEMETRY_REQUEST, 'Device A', true, { temperature: 23.5, humidity: 61 }],
    ]);
    await vi.waitFor(() => expect(h.stateEvents.filter((e) => e.deviceId === 'child-Device A').map((e) => e.kind)).toContain('disconnect'));
  });
});
