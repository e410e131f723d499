/**
 * MQTT inputs for the fuzzer: valid packets of both protocol levels (3.1.1 and 5, built with
 * mqtt-packet), then the same mutated, and raw fixed headers with remaining lengths that lie.
 */
import mqttPacket from 'mqtt-packet';
import { mutateBytes, randomJson, type Rng } from '@rivulet/testing';

const DEVICE_TOPICS = [
  'v1/devices/me/telemetry',
  'v1/devices/me/attributes',
  'v1/devices/me/attributes/request/1',
  'v1/devices/me/rpc/request/7',
  'v1/devices/me/rpc/response/7',
  'v1/devices/me/claim',
  'v1/gateway/connect',
  'v1/gateway/disconnect',
  'v1/gateway/telemetry',
  'v1/gateway/attributes',
  'v1/gateway/rpc',
  'v2/t',
];
const ODD_FILTERS = ['#', '+', '+/+', 'a/#/b', '', '/', '////', '$SYS/#', 'v1/devices/me/#', 'v1/devices/me/rpc/request/+', 'v1/devices/me/attributes/response/+', '#/#', 'a+', 'x'.repeat(2000)];

function topic(rng: Rng): string {
  switch (rng.int(0, 5)) {
    case 0:
    case 1:
    case 2:
      return rng.pick(DEVICE_TOPICS);
    case 3:
      return rng.pick(DEVICE_TOPICS) + rng.pick(['/', '/+', '/#', '\u0000', '/x', '//', '\ud83d\udca7']);
    case 4:
      return rng.string(rng.length(300));
    default:
      return rng.pick(ODD_FILTERS);
  }
}

function payload(rng: Rng): Buffer {
  switch (rng.int(0, 3)) {
    case 0:
      return Buffer.from(JSON.stringify(randomJson(rng)) ?? 'null');
    case 1:
      return Buffer.from(JSON.stringify({ temperature: rng.int(-50, 50), ts: rng.int(0, 2 ** 45) }));
    case 2:
      return rng.bytes(rng.length(2000));
    default:
      return Buffer.from('['.repeat(rng.int(1, 50_000)));
  }
}

function properties(rng: Rng): Record<string, unknown> | undefined {
  if (rng.chance(0.4)) return undefined;
  const p: Record<string, unknown> = {};
  if (rng.chance(0.3)) p.sessionExpiryInterval = rng.int(0, 2 ** 32 - 1);
  if (rng.chance(0.3)) p.receiveMaximum = rng.int(1, 65535);
  if (rng.chance(0.3)) p.maximumPacketSize = rng.int(1, 2 ** 28);
  if (rng.chance(0.3)) p.topicAliasMaximum = rng.int(0, 65535);
  if (rng.chance(0.3)) p.requestProblemInformation = rng.chance(0.5);
  if (rng.chance(0.3)) p.userProperties = { [rng.string(rng.int(1, 10))]: rng.string(rng.length(40)) };
  if (rng.chance(0.2)) p.authenticationMethod = rng.string(rng.int(1, 10));
  return p;
}

/** A packet mqtt-packet can encode; its fields are random within (mostly) what the encoder accepts. */
function validPacket(rng: Rng, token: string, version: number): Record<string, unknown> {
  const messageId = rng.int(1, 65535);
  switch (rng.int(0, 11)) {
    case 0:
    case 1:
      return {
        cmd: 'connect',
        protocolId: version === 3 ? 'MQIsdp' : rng.chance(0.9) ? 'MQTT' : rng.string(4),
        protocolVersion: version,
        clientId: rng.chance(0.2) ? '' : rng.string(rng.length(64)),
        clean: rng.chance(0.7),
        keepalive: rng.int(0, 65535),
        ...(rng.chance(0.8) ? { username: rng.chance(0.7) ? token : rng.string(rng.length(40)) } : {}),
        ...(rng.chance(0.3) ? { password: rng.bytes(rng.length(40)) } : {}),
        ...(rng.chance(0.2) ? { will: { topic: topic(rng), payload: payload(rng), qos: rng.int(0, 2), retain: rng.chance(0.5) } } : {}),
        ...(version === 5 ? { properties: properties(rng) } : {}),
      };
    case 2:
    case 3:
    case 4:
    case 5: {
      const qos = rng.int(0, 2);
      return { cmd: 'publish', topic: topic(rng), payload: payload(rng), qos, retain: rng.chance(0.1), dup: rng.chance(0.1), ...(qos > 0 ? { messageId } : {}), ...(version === 5 && rng.chance(0.3) ? { properties: { topicAlias: rng.int(1, 20), payloadFormatIndicator: rng.chance(0.5) } } : {}) };
    }
    case 6:
    case 7:
      return { cmd: 'subscribe', messageId, subscriptions: Array.from({ length: rng.int(1, 5) }, () => ({ topic: rng.chance(0.5) ? rng.pick(ODD_FILTERS) : topic(rng), qos: rng.int(0, 2) })) };
    case 8:
      return { cmd: 'unsubscribe', messageId, unsubscriptions: [topic(rng)] };
    case 9:
      return { cmd: rng.pick(['puback', 'pubrec', 'pubrel', 'pubcomp']), messageId };
    case 10:
      return { cmd: rng.pick(['pingreq', 'disconnect', 'pingresp', 'connack', 'suback']), ...(rng.chance(0.5) ? { returnCode: rng.int(0, 5), granted: [0], messageId } : {}) };
    default:
      return version === 5 ? { cmd: 'auth', reasonCode: rng.pick([0, 0x18, 0x19]), properties: { authenticationMethod: rng.string(5) } } : { cmd: 'pingreq' };
  }
}

function encode(packet: Record<string, unknown>, version: number): Buffer | undefined {
  try {
    return mqttPacket.generate(packet as unknown as mqttPacket.Packet, { protocolVersion: version });
  } catch {
    return undefined; // a field the encoder refuses: the raw generators cover such shapes
  }
}

/** A fixed header byte and a remaining length that may lie (more, less, a 5-byte or unterminated varint). */
function rawPacket(rng: Rng): Buffer {
  const body = rng.bytes(rng.length(300));
  const header = rng.int(0, 255);
  const lie = rng.int(0, 4);
  let len: number[];
  if (lie === 0) len = varint(body.length);
  else if (lie === 1) len = varint(body.length + rng.int(1, 1000));
  else if (lie === 2) len = varint(Math.max(0, body.length - rng.int(1, 10)));
  else if (lie === 3) len = [0xff, 0xff, 0xff, 0x7f]; // 268,435,455: the largest
  else len = [0x80, 0x80, 0x80, 0x80, 0x01]; // five bytes: malformed [MQTT-1.5.5]
  return Buffer.concat([Buffer.from([header, ...len]), body]);
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A PUBLISH whose topic holds invalid UTF-8 or NUL (built by hand: the encoder writes strings as UTF-8). */
function badTopicPublish(rng: Rng): Buffer {
  const t = Buffer.concat([Buffer.from('v1/devices/me/telemetry'), rng.pick([Buffer.from([0xc3, 0x28]), Buffer.from([0x00]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff])])]);
  const p = Buffer.from('{"a":1}');
  const qos = rng.int(0, 1);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, qos ? Buffer.from([0, 9]) : Buffer.alloc(0), p]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1), ...varint(body.length)]), body]);
}

export interface MqttConnectionPlan {
  /** Bytes written one chunk after another. */
  chunks: Buffer[];
  /** Packets (or packet-like chunks) in the plan. */
  packets: number;
}

/**
 * One connection's worth of input: usually a CONNECT (valid or not, 3.1.1, 3.1 or 5, sometimes
 * with MQTT 5 properties to a server that speaks 3.1.1) and then one to six packets of any kind.
 */
export function mqttConnectionPlan(rng: Rng, token: string): MqttConnectionPlan {
  const version = rng.pick([4, 4, 4, 5, 3, rng.int(0, 255)]);
  const chunks: Buffer[] = [];
  if (rng.chance(0.8)) {
    const connect = encode(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version === 3 ? 3 : version, clientId: `fz${rng.int(0, 1e9)}`, clean: true, keepalive: 30, username: rng.chance(0.85) ? token : rng.string(12), ...(version === 5 ? { properties: properties(rng) } : {}) },
      version === 5 ? 5 : 4,
    ) ?? rawPacket(rng);
    chunks.push(rng.chance(0.15) ? mutateBytes(rng, connect) : connect);
  }
  const n = rng.int(1, 6);
  for (let i = 0; i < n; i++) {
    const kind = rng.int(0, 9);
    if (kind <= 5) {
      const packet = encode(validPacket(rng, token, version === 5 ? 5 : 4), version === 5 ? 5 : 4) ?? rawPacket(rng);
      chunks.push(kind <= 3 ? packet : mutateBytes(rng, packet));
    } else if (kind <= 7) chunks.push(rawPacket(rng));
    else if (kind === 8) chunks.push(badTopicPublish(rng));
    else chunks.push(rng.bytes(rng.length(500)));
  }
  return { chunks, packets: chunks.length };
}
