/**
 * `npm run test:scale [-- --at-most-once]`: Rivulet split into roles on a real Kafka broker and a
 * real PostgreSQL server. One transport, two rule-engine workers and one API process (each its own
 * `npm start` process); 100 MQTT devices publish 50,000 points at QoS 1; one worker is killed
 * (SIGKILL) mid-run and started again, then the transport is restarted; a two-way RPC goes from the
 * API process to a device on the transport; a WebSocket client on the API process watches live
 * points. Then PostgreSQL is compared with the acknowledged points. Ends with one line
 * `acked=N stored=N duplicates=0 lost=0 out_of_order=0`; exits 1 on any loss, duplicate or
 * reordering (at-least-once), or when RPC or the live stream did not work. With --at-most-once
 * (RIVULET_QUEUE_COMMIT=on-receipt) losses are expected and reported, and exit 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startKafka, startPostgres, type KafkaBroker, type PostgresServer } from '@rivulet/testing';
import { startFleet, type Fleet } from './fleet';
import { createDevice, login, restCall, watchLatest } from './rest';
import { ADMIN, startTopology, type Topology } from './topology';
import { compare, formatResult, waitStored } from './verify';

const { values: args } = parseArgs({
  options: {
    'at-most-once': { type: 'boolean', default: false },
    devices: { type: 'string', default: '100' },
    points: { type: 'string', default: '50000' },
    rate: { type: 'string', default: '1500' },
    workers: { type: 'string', default: '2' },
    'keep-logs': { type: 'boolean', default: false },
  },
});
const atMostOnce = args['at-most-once'];
const deviceCount = Number(args.devices);
const perDevice = Math.ceil(Number(args.points) / deviceCount);
const rate = Number(args.rate);
const workerCount = Number(args.workers);

const log = (msg: string): void => void process.stderr.write(`[scale +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
const t0 = Date.now();

async function main(): Promise<number> {
  const logDir = mkdtempSync(join(tmpdir(), 'rivulet-scale-'));
  let kafka: KafkaBroker | undefined;
  let pgServer: PostgresServer | undefined;
  let topo: Topology | undefined;
  let fleet: Fleet | undefined;
  let failed = true;
  try {
    log(`mode ${atMostOnce ? 'at-most-once (RIVULET_QUEUE_COMMIT=on-receipt)' : 'at-least-once (RIVULET_QUEUE_COMMIT=after-processing)'}; ${deviceCount} devices x ${perDevice} points at ${rate}/s; logs in ${logDir}`);
    [kafka, pgServer] = await Promise.all([startKafka(), startPostgres()]);
    log(`kafka ${kafka.brokers}, postgres ${pgServer.url}`);
    topo = await startTopology({
      kafkaBrokers: kafka.brokers,
      databaseUrl: pgServer.url,
      commit: atMostOnce ? 'on-receipt' : 'after-processing',
      workers: workerCount,
      logDir,
      prefix: `scale${Date.now()}.`,
    });
    log(`roles ready: api ${topo.apiUrl}, transport ${topo.mqttUrl}, ${workerCount} rule-engine workers`);
    const jwt = await login(topo.apiUrl, ADMIN.username, ADMIN.password);
    const devices: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < deviceCount; i += 10) {
      devices.push(...(await Promise.all(Array.from({ length: Math.min(10, deviceCount - i) }, (_, k) => createDevice(topo!.apiUrl, jwt, `scale-${i + k}`)))));
    }
    const watcher = await watchLatest(topo.apiUrl, jwt, devices[0]!.id, 'seq');
    const total = deviceCount * perDevice;
    fleet = startFleet({ mqttUrl: topo.mqttUrl, devices, pointsPerDevice: perDevice, rate, tsBase: 1_700_000_000_000 });
    let fleetError: unknown;
    fleet.done.catch((e: unknown) => (fleetError = e));
    const waitAcked = async (n: number): Promise<void> => {
      while (fleet!.ackedCount() < n) {
        if (fleetError) throw fleetError;
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    await waitAcked(Math.floor(total * 0.2));
    log(`acked ${fleet.ackedCount()}: SIGKILL rule-engine-${workerCount}`);
    await topo.crashAndRestartWorker(workerCount - 1);
    log(`acked ${fleet.ackedCount()}: rule-engine-${workerCount} ready again`);
    await waitAcked(Math.floor(total * 0.6));
    log(`acked ${fleet.ackedCount()}: restarting the transport (SIGTERM)`);
    await topo.restartTransport();
    log(`acked ${fleet.ackedCount()}: transport ready again`);

    // Two-way RPC from the API process to device 0, which is connected to the (restarted) transport.
    const rpcClient = fleet.client(0);
    await rpcClient.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    rpcClient.on('message', (topic, payload) => {
      const m = /^v1\/devices\/me\/rpc\/request\/(.+)$/.exec(topic);
      if (!m) return;
      const req = JSON.parse(payload.toString()) as { method: string; params: unknown };
      rpcClient.publish(`v1/devices/me/rpc/response/${m[1]}`, JSON.stringify({ echo: req.params, method: req.method }), { qos: 1 });
    });
    let rpc: { status: number; body: unknown } = { status: 0, body: undefined };
    const rpcEnd = Date.now() + 30_000;
    const rpcT0 = Date.now();
    while (Date.now() < rpcEnd) {
      rpc = await restCall(topo.apiUrl, jwt, `/api/rpc/twoway/${devices[0]!.id}`, { method: 'POST', body: { method: 'ping', params: { n: 42 }, timeout: 5000 } });
      if (rpc.status === 200) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const rpcOk = rpc.status === 200 && JSON.stringify(rpc.body) === JSON.stringify({ echo: { n: 42 }, method: 'ping' });
    log(`two-way RPC api -> transport -> device: ${rpc.status} ${JSON.stringify(rpc.body)} after ${Date.now() - rpcT0} ms`);

    await Promise.race([fleet.done, new Promise((_, rej) => setTimeout(() => rej(new Error('devices did not finish within 15 minutes')), 900_000))]);
    log(`all ${fleet.ackedCount()} points acknowledged (${fleet.resent()} PUBLISHes sent again); waiting for the rule engines`);
    const rows = await waitStored(pgServer.url, devices.map((d) => d.id), fleet.ackedCount(), 180_000);
    const result = compare(fleet.acked, rows);
    const liveUpdates = watcher.updates();
    watcher.close();
    log(`WebSocket on the API process saw ${liveUpdates} live updates of device 0 (it sent ${perDevice} points)`);
    if (result.storedNotAcked > 0) log(`${result.storedNotAcked} points stored that were never acknowledged`);
    const ingestS = (Date.now() - t0) / 1000;
    log(`done in ${ingestS.toFixed(1)} s`);
    const problems: string[] = [];
    if (!rpcOk) problems.push('two-way RPC did not return the device reply');
    if (liveUpdates === 0) problems.push('the WebSocket client saw no live points');
    if (!atMostOnce && (result.lost > 0 || result.duplicates > 0 || result.outOfOrder > 0)) problems.push('at-least-once run lost, repeated or reordered points');
    if (atMostOnce) log(`at-most-once: lost ${result.lost} of ${result.acked} acknowledged points (${((100 * result.lost) / Math.max(1, result.acked)).toFixed(2)}%)`);
    for (const p of problems) log(`FAILED: ${p}`);
    process.stdout.write(`${formatResult(result)}\n`);
    failed = problems.length > 0;
    return failed ? 1 : 0;
  } finally {
    await fleet?.close();
    await topo?.stop().catch((e: unknown) => log(`stopping roles: ${String(e)}`));
    await kafka?.stop();
    pgServer?.stop();
    if (!args['keep-logs'] && !failed) rmSync(logDir, { recursive: true, force: true });
    else log(`role logs kept in ${logDir}`);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`test:scale failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
