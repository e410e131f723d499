import type { IClientOptions, MqttClient } from 'mqtt';
import { createCoapClient, createHttpClient, createMqttClient, type DeviceConnection, type ProtocolClient } from './clients';
import { createRestClient, provisionDevices, readTokens, writeTokens, type FetchFn, type SimDevice } from './devices';
import { progressLine, summaryText } from './format';
import type { SimOptions } from './options';
import { runLoad, type RunSummary, type SimTarget } from './runner';
import { createDeviceSeries, seededRandom } from './templates';

export interface SimulatorDeps {
  /** Human-readable output (progress line, summary). */
  out: (text: string) => void;
  /** Whether `out` is a terminal (a live progress line is drawn in place). */
  isTTY: boolean;
  fetch?: FetchFn;
  mqttConnect?: (url: string, opts: IClientOptions) => MqttClient;
  /** Called instead of waiting for --duration in --idle mode (tests). */
  idleWait?: (ms: number) => Promise<void>;
}

export interface SimulatorResult {
  summary: RunSummary | undefined;
  connected: number;
  connectFailures: number;
  devices: SimDevice[];
}

export function createProtocolClient(o: SimOptions, deps: Pick<SimulatorDeps, 'mqttConnect'> = {}): ProtocolClient {
  switch (o.protocol) {
    case 'mqtt':
      return createMqttClient({
        url: o.mqttUrl,
        qos: o.qos,
        protocolVersion: o.mqttVersion,
        ...(o.telemetryTopic ? { telemetryTopic: o.telemetryTopic } : {}),
        ...(o.mqttUsername ? { username: o.mqttUsername } : {}),
        ...(o.clientId ? { clientId: o.clientId } : {}),
        ...(deps.mqttConnect ? { connect: deps.mqttConnect } : {}),
      });
    case 'http':
      return createHttpClient({ url: o.url, maxSockets: Math.max(1, Math.min(o.devices * o.inflight, 512)) });
    case 'coap':
      return createCoapClient({ url: o.coapUrl });
  }
}

/** Devices from the tokens file, or created (or found) through REST. */
export async function resolveDevices(o: SimOptions, deps: Pick<SimulatorDeps, 'fetch' | 'out'>): Promise<SimDevice[]> {
  if (o.tokensFile) {
    const all = await readTokens(o.tokensFile);
    if (all.length < o.devices) throw new Error(`${o.tokensFile} holds ${all.length} devices, --devices asks for ${o.devices}`);
    return all.slice(0, o.devices);
  }
  if (!o.password) throw new Error('--password (or RIVULET_ADMIN_PASSWORD) is needed to create devices through REST; or pass --tokens FILE');
  const rest = createRestClient({ baseUrl: o.url, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  await rest.login(o.username, o.password);
  return provisionDevices({ rest, count: o.devices, prefix: o.prefix, type: o.deviceType, concurrency: 16 });
}

/** Opens connections with at most `concurrency` handshakes at once; failures are counted, not fatal. */
export async function connectAll(
  client: ProtocolClient,
  devices: readonly SimDevice[],
  concurrency: number,
): Promise<{ conns: Array<{ device: SimDevice; conn: DeviceConnection }>; failures: number; firstError: string | undefined }> {
  const conns: Array<{ device: SimDevice; conn: DeviceConnection }> = [];
  let failures = 0;
  let firstError: string | undefined;
  let next = 0;
  const worker = async () => {
    while (next < devices.length) {
      const device = devices[next++]!;
      try {
        conns.push({ device, conn: await client.connect(device) });
      } catch (e) {
        failures++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(devices.length, Math.max(1, concurrency)) }, worker));
  return { conns, failures, firstError };
}

/**
 * One simulator run: resolve devices, connect them, send (or hold idle), report. JSON events go to
 * `emit` (the benchmark reads them); people read `deps.out`.
 */
export async function runSimulator(o: SimOptions, deps: SimulatorDeps, emit: (event: Record<string, unknown>) => void = () => undefined): Promise<SimulatorResult> {
  const devices = await resolveDevices(o, deps);
  if (o.saveTokens) await writeTokens(o.saveTokens, devices);
  const client = createProtocolClient(o, deps);
  try {
    const t0 = performance.now();
    const { conns, failures, firstError } = await connectAll(client, devices, o.connectConcurrency);
    const connectS = (performance.now() - t0) / 1000;
    emit({ event: 'connected', connected: conns.length, failures, firstError, seconds: connectS });
    if (!o.quiet && !o.json) {
      deps.out(`Connected ${conns.length} of ${devices.length} devices over ${o.protocol} in ${connectS.toFixed(1)} s${failures ? ` (${failures} failed: ${firstError})` : ''}\n`);
    }
    if (conns.length === 0) return { summary: undefined, connected: 0, connectFailures: failures, devices };

    if (o.idle) {
      const wait = deps.idleWait ?? ((msWait: number) => new Promise<void>((r) => setTimeout(r, msWait)));
      await wait(o.durationS * 1000);
      await Promise.all(conns.map((c) => c.conn.close()));
      return { summary: undefined, connected: conns.length, connectFailures: failures, devices };
    }

    const rnd = o.seed === undefined ? Math.random : seededRandom(o.seed);
    const targets: SimTarget[] = conns.map(({ device, conn }) => ({
      name: device.name,
      conn,
      series: createDeviceSeries(o.template, { random: rnd, tsFloor: o.tsFloor }),
    }));
    const live = deps.isTTY && !o.quiet && !o.json;
    const summary = await runLoad({
      targets,
      rate: o.rate,
      inflight: o.inflight,
      durationS: o.durationS,
      maxMessages: o.maxMessages,
      drainTimeoutMs: o.drainTimeoutMs,
      progressIntervalMs: 1000,
      onProgress: (p) => {
        if (o.json) emit({ event: 'progress', ...p });
        else if (live) deps.out(`\r${progressLine(p)}\x1b[K`);
      },
    });
    if (live) deps.out('\n');
    await Promise.all(targets.map((t) => t.conn.close()));
    const { histogram: _h, ...rest } = summary;
    emit({ event: 'summary', protocol: o.protocol, ...rest, connectFailures: failures });
    if (!o.json) deps.out(`${summaryText(summary, o.protocol)}\n`);
    return { summary, connected: conns.length, connectFailures: failures, devices };
  } finally {
    await client.close();
  }
}
