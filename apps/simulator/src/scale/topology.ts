import { join } from 'node:path';
import { freePort, spawnRivulet, waitRivuletReady, type RivuletProcess } from '@rivulet/testing';
import { startCommand } from '../bench/start-command';

export const ADMIN = { username: 'tenant@rivulet.local', password: 'scale-admin-pw-1' };

/** The split deployment of the scale run: one transport, N rule-engine workers, one API process. */
export interface Topology {
  readonly apiUrl: string;
  readonly mqttUrl: string;
  readonly transport: () => RivuletProcess;
  readonly workers: ReadonlyArray<() => RivuletProcess>;
  /** SIGKILL one worker (a crash), then start it again and wait until it is ready. */
  crashAndRestartWorker(i: number): Promise<void>;
  /** SIGTERM the transport (graceful: it stops accepting, its sessions end), then start it again. */
  restartTransport(): Promise<void>;
  stop(): Promise<void>;
}

interface Role {
  name: string;
  env: Record<string, string>;
  url: string;
  proc: RivuletProcess;
}

export async function startTopology(o: { kafkaBrokers: string; databaseUrl: string; commit: 'after-processing' | 'on-receipt'; workers: number; logDir: string; prefix: string }): Promise<Topology> {
  const common: Record<string, string> = {
    RIVULET_QUEUE: 'kafka',
    KAFKA_BROKERS: o.kafkaBrokers,
    DATABASE_URL: o.databaseUrl,
    RIVULET_DB_POOL_SIZE: '6',
    RIVULET_QUEUE_PREFIX: o.prefix,
    RIVULET_QUEUE_COMMIT: o.commit,
    RIVULET_QUEUE_PARTITIONS: '8',
    RIVULET_JWT_SECRET: 'scale-run-jwt-secret-0123456789abcdef',
    RIVULET_ADMIN_PASSWORD: ADMIN.password,
    RIVULET_SYSADMIN_PASSWORD: 'scale-sysadmin-pw-1',
    RIVULET_LOG_LEVEL: 'warn',
    RIVULET_HTTP_HOST: '127.0.0.1',
    RIVULET_MQTT_HOST: '127.0.0.1',
    RIVULET_COAP_HOST: '127.0.0.1',
    RIVULET_DATA_DIR: join(o.logDir, 'data'),
    RIVULET_SHUTDOWN_TIMEOUT_MS: '10000',
    // the web app is not needed for the run (npm start would build it first)
    RIVULET_WEB_DIR: join(o.logDir, 'no-web'),
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  const mqttPort = await freePort();
  // what `npm start` runs (the built server, built here first when stale)
  const command = startCommand();
  const role = async (name: string, roles: string, extra: Record<string, string> = {}): Promise<Role> => {
    const httpPort = await freePort();
    const env = { ...common, RIVULET_ROLES: roles, RIVULET_NODE_ID: name, RIVULET_HTTP_PORT: String(httpPort), RIVULET_MQTT_PORT: '0', RIVULET_COAP_PORT: '0', ...extra };
    return { name, env, url: `http://127.0.0.1:${httpPort}`, proc: spawnRivulet({ name, env, command, logFile: join(o.logDir, `${name}.log`) }) };
  };
  const started: Role[] = [];
  try {
    // The API process first: it creates the tenant, its administrator and root chain once.
    const api = await role('api', 'api');
    started.push(api);
    await waitRivuletReady(api.proc, api.url, 90_000);
    const transport = await role('transport', 'transport', { RIVULET_MQTT_PORT: String(mqttPort) });
    started.push(transport);
    const workers: Role[] = [];
    for (let i = 1; i <= o.workers; i++) {
      const w = await role(`rule-engine-${i}`, 'rule-engine');
      workers.push(w);
      started.push(w);
    }
    await Promise.all([transport, ...workers].map((r) => waitRivuletReady(r.proc, r.url, 90_000)));
    const restart = async (r: Role): Promise<void> => {
      r.proc = spawnRivulet({ name: r.name, env: r.env, command, logFile: join(o.logDir, `${r.name}.log`) });
      await waitRivuletReady(r.proc, r.url, 90_000);
    };
    return {
      apiUrl: api.url,
      mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
      transport: () => transport.proc,
      workers: workers.map((w) => () => w.proc),
      async crashAndRestartWorker(i) {
        const w = workers[i]!;
        await w.proc.kill('SIGKILL');
        await restart(w);
      },
      async restartTransport() {
        const code = await transport.proc.kill('SIGTERM');
        if (code !== 0) throw new Error(`transport exited ${code} on SIGTERM:\n${transport.proc.output().slice(-3000)}`);
        await restart(transport);
      },
      stop: () => stopAll(started),
    };
  } catch (e) {
    await stopAll(started);
    throw e;
  }
}

async function stopAll(roles: Role[]): Promise<void> {
  await Promise.all(
    roles.map(async (r) => {
      const t = setTimeout(() => void r.proc.kill('SIGKILL'), 20_000);
      await r.proc.kill('SIGTERM');
      clearTimeout(t);
    }),
  );
}
