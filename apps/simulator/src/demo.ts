import { createHttpClient } from './clients';
import type { DeviceConnection } from './clients/types';
import { createRestClient, type FetchFn } from './devices';
import { createDeviceSeries, seededRandom, type TemplateSpec } from './templates';

export interface DemoOptions {
  url: string;
  username: string;
  password: string;
  /** Hours of history per device (default 24), one reading every 5 minutes. */
  hours?: number;
  fetch?: FetchFn;
  now?: () => number;
  out: (text: string) => void;
}

interface DemoDevice {
  name: string;
  type: string;
  attributes: Record<string, unknown>;
  template: TemplateSpec;
}

const DEMO_DEVICES: readonly DemoDevice[] = [
  ...[1, 2, 3].map((i) => ({
    name: `Demo Thermostat ${i}`,
    type: 'thermostat',
    attributes: { model: 'TH-200', firmware: '1.4.2', room: ['Kitchen', 'Office', 'Lab'][i - 1] },
    template: {
      shape: 'ts' as const,
      keys: {
        temperature: { kind: 'walk' as const, start: 19 + i, step: 0.15, min: 15, max: 28 },
        humidity: { kind: 'sine' as const, mid: 45, amplitude: 8, periodMs: 86_400_000, decimals: 1 },
        heating: { kind: 'choice' as const, values: [true, false] },
      },
    },
  })),
  ...[1, 2].map((i) => ({
    name: `Demo Pump ${i}`,
    type: 'pump',
    attributes: { model: 'P-7', firmware: '2.0.1', site: `Station ${i}` },
    template: {
      shape: 'ts' as const,
      keys: {
        pressure: { kind: 'walk' as const, start: 3.5, step: 0.05, min: 2, max: 5 },
        flow: { kind: 'sine' as const, mid: 120, amplitude: 30, periodMs: 43_200_000, decimals: 1 },
        rpm: { kind: 'walk' as const, start: 1450, step: 10, min: 1200, max: 1700, decimals: 0 },
      },
    },
  })),
];

const STEP_MS = 5 * 60_000;
const GROUPS_PER_POST = 48;

function post(conn: DeviceConnection, kind: 'telemetry' | 'attributes', payload: string): Promise<void> {
  return new Promise((resolve, reject) => conn.send(kind, payload, (e) => (e ? reject(e) : resolve())));
}

/**
 * `--demo`: a fresh install gets a few devices with client attributes and a day of readings (sent
 * through the HTTP device API as arrays of {ts, values}, as a device back-filling would).
 * There is no dashboard to create: the web app is not part of this build yet.
 */
export async function runDemo(o: DemoOptions): Promise<Array<{ name: string; id: string; token: string; points: number }>> {
  const rest = createRestClient({ baseUrl: o.url, ...(o.fetch ? { fetch: o.fetch } : {}) });
  await rest.login(o.username, o.password);
  const http = createHttpClient({ url: o.url, maxSockets: 8 });
  const now = (o.now ?? Date.now)();
  const steps = Math.max(1, Math.round(((o.hours ?? 24) * 3_600_000) / STEP_MS));
  const out: Array<{ name: string; id: string; token: string; points: number }> = [];
  try {
    for (const [n, d] of DEMO_DEVICES.entries()) {
      const dev = await rest.ensureDevice(d.name, d.type);
      const conn = await http.connect(dev);
      await post(conn, 'attributes', JSON.stringify(d.attributes));
      const series = createDeviceSeries(d.template, { random: seededRandom(n + 1) });
      let points = 0;
      let batch: string[] = [];
      for (let s = steps - 1; s >= 0; s--) {
        const m = series.next(now - s * STEP_MS);
        batch.push(m.payload);
        points += m.points;
        if (batch.length === GROUPS_PER_POST || s === 0) {
          await post(conn, 'telemetry', `[${batch.join(',')}]`);
          batch = [];
        }
      }
      out.push({ name: d.name, id: dev.id, token: dev.token, points });
      o.out(`  ${d.name.padEnd(18)} id ${dev.id}  token ${dev.token}  ${points} points\n`);
    }
  } finally {
    await http.close();
  }
  o.out(
    `Demo data is in: ${out.length} devices, ${steps} readings each (every 5 minutes over ${o.hours ?? 24} h).\n` +
      'No dashboard was created: the web app is not part of this build yet. Read the data through the REST API, e.g.\n' +
      `  curl "${o.url}/api/plugins/telemetry/DEVICE/${out[0]?.id}/values/timeseries?keys=temperature" -H "X-Authorization: Bearer $JWT"\n` +
      `or keep them live: npm run sim -- --protocol http --tokens <file> (see --save-tokens).\n`,
  );
  return out;
}
