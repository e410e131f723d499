// Tenant A's flood for the two-tenant rate limit test, in a process of its own so its load does not
// share the test's (and server's) event loop: MQTT devices (mqtt.js) keep IN_FLIGHT QoS 1 publishes
// outstanding each, HTTP devices post one after another, HTTP_GAP_MS apart (node's fetch). Runs until a line arrives on
// stdin, then prints one JSON line: what was acknowledged (per token, the ts values), refusals, delays.
import { connectAsync } from 'mqtt';
import { createInterface } from 'node:readline';

const { FLOOD_HTTP_URL, FLOOD_MQTT_URL, FLOOD_MQTT_TOKENS, FLOOD_HTTP_TOKENS } = process.env;
const IN_FLIGHT = 5;
const SLOW_PUBACK_MS = 50;
/** Between one HTTP device's posts: 10 devices make at most 500 attempts a second, 25x a rate of 20. */
const HTTP_GAP_MS = 20;
let stopping = false;
const acked = {};
const result = { http200: 0, http429: 0, httpOther: 0, mqttAcked: 0, mqttSlowPubacks: 0, mqttErrors: 0 };

async function mqttDevice(token, base) {
  const c = await connectAsync(FLOOD_MQTT_URL, { username: token, reconnectPeriod: 0 });
  acked[token] = [];
  let i = 0;
  async function lane() {
    while (!stopping) {
      const ts = base + i++;
      const t0 = Date.now();
      try {
        await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts, values: { n: ts } }), { qos: 1 });
      } catch {
        result.mqttErrors++;
        return;
      }
      acked[token].push(ts);
      result.mqttAcked++;
      if (Date.now() - t0 > SLOW_PUBACK_MS) result.mqttSlowPubacks++;
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  await c.endAsync();
}

async function httpDevice(token, base) {
  acked[token] = [];
  for (let i = 0; !stopping; i++) {
    const ts = base + i;
    try {
      const r = await fetch(`${FLOOD_HTTP_URL}/api/v1/${token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ts, values: { n: ts } }) });
      await r.arrayBuffer();
      if (r.status === 200) {
        result.http200++;
        acked[token].push(ts);
      } else if (r.status === 429) result.http429++;
      else result.httpOther++;
    } catch {
      result.httpOther++;
    }
    await new Promise((r) => setTimeout(r, HTTP_GAP_MS));
  }
}

const base = Number(process.env.FLOOD_TS_BASE);
const work = [
  ...FLOOD_MQTT_TOKENS.split(',').map((t) => mqttDevice(t, base)),
  ...FLOOD_HTTP_TOKENS.split(',').map((t) => httpDevice(t, base)),
];
const started = Date.now();
process.stdout.write('started\n');
createInterface({ input: process.stdin }).once('line', async () => {
  stopping = true;
  await Promise.allSettled(work);
  // exit only once the line is written: a pipe write is asynchronous, exit() would cut it short
  process.stdout.write(`${JSON.stringify({ ...result, elapsedMs: Date.now() - started, acked })}\n`, () => process.exit(0));
});
