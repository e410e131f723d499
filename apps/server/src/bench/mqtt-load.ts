/**
 * The MQTT benchmark's load generator, run as a child process of mqtt-bench.ts so that its clients
 * use the second core and their memory stays out of the server's RSS. It takes commands from its
 * parent over IPC:
 *
 *   {cmd:'connect', url, tokens}            connects one mqtt.js client per token, 200 at a time
 *   {cmd:'run', durationMs, inflight, ts}   each client keeps `inflight` QoS 1 publishes of
 *                                           3 points open for durationMs, then waits for their PUBACKs
 *   {cmd:'close'}                           disconnects everything and exits
 *
 * and answers with {event:'connected'|'ran'|'closed', ...}.
 */
import { connectAsync, type MqttClient } from 'mqtt';

type Command =
  | { cmd: 'connect'; url: string; tokens: string[] }
  | { cmd: 'run'; durationMs: number; inflight: number; ts: number }
  | { cmd: 'close' };

let clients: MqttClient[] = [];

function send(msg: unknown): void {
  process.send?.(msg);
}

async function connect(url: string, tokens: string[]): Promise<void> {
  const t0 = performance.now();
  for (let i = 0; i < tokens.length; i += 200) {
    const batch = await Promise.all(
      tokens.slice(i, i + 200).map((username) => connectAsync(url, { username, reconnectPeriod: 0, keepalive: 600, connectTimeout: 30_000 })),
    );
    clients.push(...batch);
  }
  send({ event: 'connected', count: clients.length, ms: performance.now() - t0 });
}

async function run(durationMs: number, inflight: number, tsBase: number): Promise<void> {
  let acked = 0;
  let failed = 0;
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c, ci) => {
      let n = 0;
      // each client's points get their own ts (a repeated ts would overwrite, not add)
      const worker = async (): Promise<void> => {
        while (performance.now() < end) {
          const ts = tsBase + n++ * 1000 + ci;
          const body = `{"ts":${ts},"values":{"temperature":${(20 + (n % 50) / 10).toFixed(1)},"humidity":${n % 100},"pressure":1013}}`;
          const start = performance.now();
          try {
            await c.publishAsync('v1/devices/me/telemetry', body, { qos: 1 });
            acked++;
            if ((acked & 15) === 0) latencies.push(performance.now() - start);
          } catch {
            failed++;
          }
        }
      };
      await Promise.all(Array.from({ length: inflight }, worker));
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  send({ event: 'ran', acked, failed, elapsedMs: performance.now() - t0, p50: q(0.5), p99: q(0.99) });
}

process.on('message', (m: Command) => {
  const done = (p: Promise<void>) => p.catch((e: unknown) => send({ event: 'error', error: String(e) }));
  if (m.cmd === 'connect') void done(connect(m.url, m.tokens));
  else if (m.cmd === 'run') void done(run(m.durationMs, m.inflight, m.ts));
  else if (m.cmd === 'close') {
    void Promise.all(clients.map((c) => c.endAsync(true).catch(() => {}))).then(() => {
      clients = [];
      send({ event: 'closed' });
      process.exit(0);
    });
  }
});
send({ event: 'ready' });
