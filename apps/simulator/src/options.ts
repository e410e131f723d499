import { parseArgs } from 'node:util';
import { parseKeySpec, PRESETS, type Shape, type TemplateSpec } from './templates';

export type Protocol = 'mqtt' | 'http' | 'coap';

export interface SimOptions {
  protocol: Protocol;
  devices: number;
  /** Messages per second over all devices; 0: as fast as acknowledgements allow. */
  rate: number;
  durationS: number;
  maxMessages: number;
  inflight: number;
  qos: 0 | 1;
  url: string;
  mqttUrl: string;
  /** MQTT 3.1.1 (4) or MQTT 5. */
  mqttVersion: 4 | 5;
  coapUrl: string;
  username: string;
  password: string | undefined;
  prefix: string;
  deviceType: string;
  tokensFile: string | undefined;
  saveTokens: string | undefined;
  telemetryTopic: string | undefined;
  mqttUsername: string | undefined;
  clientId: string | undefined;
  connectConcurrency: number;
  template: TemplateSpec;
  tsFloor: number;
  seed: number | undefined;
  json: boolean;
  quiet: boolean;
  idle: boolean;
  demo: boolean;
  drainTimeoutMs: number;
  help: boolean;
}

export const USAGE = `Usage: npm run sim -- [options]

Simulated devices sending telemetry to Rivulet (or ThingsBoard) over MQTT, HTTP or CoAP.

  --protocol mqtt|http|coap   device protocol (default mqtt)
  --devices N                 devices to create and connect (default 10)
  --rate N                    messages per second over all devices (default: 1 per device; 0 = as fast
                              as acknowledgements allow)
  --duration S                seconds of load (default 60)
  --messages N                stop after N messages (default: no limit)
  --inflight N                unacknowledged messages per device (default 1)
  --qos 0|1                   MQTT QoS (default 1)
  --mqtt-version 4|5          MQTT 3.1.1 (4, default) or MQTT 5
  --url URL                   REST and HTTP device API base (default http://127.0.0.1:8080)
  --mqtt-url URL              default mqtt://<host of --url>:1883
  --coap-url URL              default coap://<host of --url>:5683
  --username U --password P   REST login that creates the devices (default tenant@rivulet.local;
                              password from RIVULET_ADMIN_PASSWORD when not given)
  --prefix P                  device names P1, P2, ... numbered to the device count's width (P01..P50; default sim-); existing ones are reused
  --type T                    device type (default simulated)
  --tokens FILE               read devices from FILE instead of creating them (a token per line, or
                              JSON lines {"name","token","id"})
  --save-tokens FILE          write the devices used to FILE (JSON lines)
  --template NAME             ${Object.keys(PRESETS).join(' | ')} (default thermostat)
  --keys SPEC                 e.g. temperature:walk:20:0.5,humidity:sine:50:10:60000,seq:counter,
                              mode:choice:a|b|c,status:const:{"ok":true}
  --shape flat|ts|array       payload shape (flat {k:v}; {ts,values}; an array of {ts,values})
  --groups N                  {ts,values} groups per message with --shape array
  --topic T --mqtt-username T --client-id T
                              MQTT templates with {token} {name} {id} (defaults: ThingsBoard's
                              v1/devices/me/telemetry, the token, the device name)
  --connect-concurrency N     connections opened at once (default 100)
  --ts-floor MS               every ts sent is above this
  --seed N                    repeatable values
  --idle                      connect and hold the connections for --duration without sending
  --demo                      fill a fresh install with a few devices and a day of data, then exit
  --json                      JSON lines on stdout (events connected, progress, summary)
  --quiet                     no progress line
`;

function int(name: string, v: string | undefined, def: number, min = 0): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min} (got "${v}")`);
  return n;
}

export function parseSimArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): SimOptions {
  const { values: v } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      protocol: { type: 'string' },
      devices: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      messages: { type: 'string' },
      inflight: { type: 'string' },
      qos: { type: 'string' },
      'mqtt-version': { type: 'string' },
      url: { type: 'string' },
      'mqtt-url': { type: 'string' },
      'coap-url': { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      prefix: { type: 'string' },
      type: { type: 'string' },
      tokens: { type: 'string' },
      'save-tokens': { type: 'string' },
      template: { type: 'string' },
      keys: { type: 'string' },
      shape: { type: 'string' },
      groups: { type: 'string' },
      topic: { type: 'string' },
      'mqtt-username': { type: 'string' },
      'client-id': { type: 'string' },
      'connect-concurrency': { type: 'string' },
      'ts-floor': { type: 'string' },
      'drain-timeout': { type: 'string' },
      seed: { type: 'string' },
      idle: { type: 'boolean' },
      demo: { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const protocol = (v.protocol ?? 'mqtt') as Protocol;
  if (!['mqtt', 'http', 'coap'].includes(protocol)) throw new Error(`--protocol must be mqtt, http or coap (got "${v.protocol}")`);
  const devices = Math.floor(int('devices', v.devices, 10, 1));
  const url = v.url ?? 'http://127.0.0.1:8080';
  const host = new URL(url).hostname;
  const presetName = v.template ?? 'thermostat';
  const preset = PRESETS[presetName];
  if (!preset) throw new Error(`--template must be one of ${Object.keys(PRESETS).join(', ')} (got "${presetName}")`);
  const shape = (v.shape ?? preset.shape) as Shape;
  if (!['flat', 'ts', 'array'].includes(shape)) throw new Error(`--shape must be flat, ts or array (got "${v.shape}")`);
  const qos = int('qos', v.qos, 1);
  if (qos !== 0 && qos !== 1) throw new Error('--qos must be 0 or 1');
  const mqttVersion = int('mqtt-version', v['mqtt-version'], 4);
  if (mqttVersion !== 4 && mqttVersion !== 5) throw new Error('--mqtt-version must be 4 (MQTT 3.1.1) or 5');
  const groups = Math.floor(int('groups', v.groups, preset.groups ?? (shape === 'array' ? 3 : 1), 1));
  return {
    protocol,
    devices,
    rate: int('rate', v.rate, devices),
    durationS: int('duration', v.duration, 60),
    maxMessages: Math.floor(int('messages', v.messages, 0)),
    inflight: Math.floor(int('inflight', v.inflight, 1, 1)),
    qos,
    mqttVersion,
    url,
    mqttUrl: v['mqtt-url'] ?? `mqtt://${host}:1883`,
    coapUrl: v['coap-url'] ?? `coap://${host}:5683`,
    username: v.username ?? 'tenant@rivulet.local',
    password: v.password ?? env.RIVULET_ADMIN_PASSWORD,
    prefix: v.prefix ?? 'sim-',
    deviceType: v.type ?? 'simulated',
    tokensFile: v.tokens,
    saveTokens: v['save-tokens'],
    telemetryTopic: v.topic,
    mqttUsername: v['mqtt-username'],
    clientId: v['client-id'],
    connectConcurrency: Math.floor(int('connect-concurrency', v['connect-concurrency'], 100, 1)),
    template: { keys: v.keys ? parseKeySpec(v.keys) : preset.keys, shape, groups },
    tsFloor: int('ts-floor', v['ts-floor'], 0),
    seed: v.seed === undefined ? undefined : int('seed', v.seed, 0),
    json: v.json ?? false,
    quiet: v.quiet ?? false,
    idle: v.idle ?? false,
    demo: v.demo ?? false,
    drainTimeoutMs: int('drain-timeout', v['drain-timeout'], 30_000),
    help: v.help ?? false,
  };
}
