import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveKafka, serverProperties } from './kafka-jars';
import { freePort } from './postgres-server';

/**
 * A real single-node KRaft Kafka broker on loopback for tests, benchmarks and development
 * (`npm run kafka`). Startup is tuned per ../shared/kafka.md: -Xmx128m, SerialGC, C1 only, a copied
 * template data dir and an AppCDS archive built in place on the first start (~1.2 s to ready after that).
 *
 * The JVM runs under a tiny sh wrapper that holds our stdin: if this Node process dies (even by
 * SIGKILL) the pipe closes and the wrapper sends the broker SIGTERM, so no orphan broker lingers on
 * a shared machine.
 */
export interface KafkaBroker {
  /** Bootstrap address, `127.0.0.1:PORT`. */
  readonly brokers: string;
  readonly port: number;
  /** Pid of the wrapper shell whose child is the broker's JVM (watch its process tree for CPU and memory). */
  readonly pid: number;
  /** The broker's log directory (server.log), for diagnosis. */
  readonly dir: string;
  /** SIGTERM (clean shutdown), SIGKILL after 15 s; removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartKafkaOptions {
  /** Max heap, default 128m (the measured floor). */
  heap?: string;
  /** Ready timeout, default 60 s. */
  timeoutMs?: number;
}

// Keep the wrapper's copy of stdin on fd 3: a background job's stdin is /dev/null otherwise.
const WRAPPER = 'exec 3<&0; "$@" </dev/null & p=$!; (read _ <&3; kill -TERM $p 2>/dev/null) & wait $p';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'logs', 'server.log'), 'utf8');
  } catch {
    return '';
  }
}

async function attempt(options: StartKafkaOptions): Promise<KafkaBroker> {
  const install = await resolveKafka();
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-kafka-'));
  const data = join(dir, 'data');
  cpSync(install.templateDataDir, data, { recursive: true });
  const port = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === port) controllerPort = await freePort();
  writeFileSync(join(dir, 'server.properties'), serverProperties(port, controllerPort, data));

  const cdsExists = existsSync(install.cdsArchive);
  const cdsTmp = `${install.cdsArchive}.${process.pid}.tmp`;
  const args = [
    `-Xmx${options.heap ?? '128m'}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1',
    cdsExists ? `-XX:SharedArchiveFile=${install.cdsArchive}` : `-XX:ArchiveClassesAtExit=${cdsTmp}`,
    '-Xshare:auto', '-Xlog:cds=off', '-Xlog:cds+dynamic=off',
    `-Dlog4j2.configurationFile=${install.log4jConfig}`, `-Dkafka.logs.dir=${join(dir, 'logs')}`,
    '-cp', install.classpath, 'kafka.Kafka', join(dir, 'server.properties'),
  ];
  const child: ChildProcess = spawn('sh', ['-c', WRAPPER, 'kafka-wrapper', 'java', ...args], {
    cwd: dir, stdio: ['pipe', 'ignore', 'pipe'], detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr = (stderr + c.toString()).slice(-4000); });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  child.unref();
  child.stdin?.on('error', () => {});

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      child.stdin?.end();
      const timer = setTimeout(() => {
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      }, 15_000);
      if (!exited) await exitPromise;
      clearTimeout(timer);
      if (!cdsExists && existsSync(cdsTmp)) {
        try { renameSync(cdsTmp, install.cdsArchive); } catch { rmSync(cdsTmp, { force: true }); }
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const onExit = (): void => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', onExit);

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      const log = readLog(dir);
      rmSync(dir, { recursive: true, force: true });
      process.removeListener('exit', onExit);
      throw new Error(`Kafka broker exited during startup:\n${stderr}\n${log.slice(-3000)}`);
    }
    if (readLog(dir).includes('Kafka Server started') && (await portOpen(port))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Kafka broker not ready after ${options.timeoutMs ?? 60_000} ms:\n${readLog(dir).slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    brokers: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    dir,
    stop: async () => {
      process.removeListener('exit', onExit);
      await stop();
    },
  };
}

/**
 * Starts a broker; resolves once it logged "Kafka Server started" and accepts connections.
 * Retries twice on a startup failure (a free port taken by another process meanwhile).
 */
export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaBroker> {
  let last: unknown;
  for (let i = 0; i < 3; i++) {
    try {
      return await attempt(options);
    } catch (err) {
      last = err;
      if (String(err).includes('not ready after')) break;
    }
  }
  throw last;
}
