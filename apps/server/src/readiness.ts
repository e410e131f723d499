import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readiness as ReadinessReport } from '@rivulet/api-types';
import type { Role } from './config';

/**
 * Health of one process, whatever roles it runs:
 * - `/api/health` (liveness): UP once the roles started, DOWN while starting or stopping;
 * - `/api/ready` (readiness): its database answers, its queue is connected and its roles started.
 * The API role answers both itself (they are in its OpenAPI document); `handle` answers them in
 * transport-only and rule-engine-only processes.
 */
export interface Readiness {
  /** Liveness: the roles started and the process is not stopping. */
  ready(): boolean;
  check(): Promise<ReadinessReport>;
  markStarted(): void;
  markStopping(): void;
  /** True when the request was a health or readiness probe and was answered. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/** How long a database or queue check may take before it counts as down; a probe never hangs on a stuck pool or broker. */
const DB_CHECK_TIMEOUT_MS = 2_000;

export function createReadiness(o: { roles: ReadonlyArray<Role>; database: () => Promise<unknown>; queue: () => Promise<unknown> }): Readiness {
  let state: 'STARTING' | 'STARTED' | 'STOPPING' = 'STARTING';
  async function answers(check: () => Promise<unknown>): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error('check timed out')), DB_CHECK_TIMEOUT_MS);
      });
      await Promise.race([check(), timeout]);
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
  const readiness: Readiness = {
    ready: () => state === 'STARTED',
    async check() {
      const [db, q] = await Promise.all([answers(o.database), answers(o.queue)]);
      const database = db ? 'UP' : 'DOWN';
      const queue = q ? 'UP' : 'DOWN';
      const ok = database === 'UP' && queue === 'UP' && state === 'STARTED';
      return { status: ok ? 'READY' : 'NOT_READY', roles: [...o.roles], checks: { database, queue, roles: state } };
    },
    markStarted: () => {
      state = 'STARTED';
    },
    markStopping: () => {
      state = 'STOPPING';
    },
    handle(req, res) {
      const path = req.url?.split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      if (path === '/api/health') {
        const up = readiness.ready();
        res.writeHead(up ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: up ? 'UP' : 'DOWN' }));
        return true;
      }
      if (path === '/api/ready') {
        readiness.check().then(
          (r) => {
            res.writeHead(r.status === 'READY' ? 200 : 503, { 'content-type': 'application/json' });
            res.end(JSON.stringify(r));
          },
          () => {
            res.writeHead(503, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ status: 'NOT_READY' }));
          },
        );
        return true;
      }
      return false;
    },
  };
  return readiness;
}
