import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { registerCollectors, storageMetrics, type MetricsSources } from './collectors';

export type { MetricsSources } from './collectors';

export const METRICS_PATH = '/metrics';

/**
 * The process's Prometheus metrics (prom-client, a registry of its own, no global state): process
 * and Node.js metrics, and Rivulet's, read from the components' own counters at scrape time.
 * Aggregates only: no tenant, device or chain ids as labels, so one scrape shows no tenant's data.
 *
 * Access: with a token, `Authorization: Bearer <token>` is required from anyone; without one, only
 * loopback peers that came directly (no X-Forwarded-For / Forwarded header: a reverse proxy on the
 * same host would otherwise make every outside client look local) are answered.
 */
export interface Metrics {
  /** Answers GET/HEAD /metrics (true); false for any other request, left untouched. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The text exposition, as a scrape gets it. */
  scrape(): Promise<string>;
  /** For the batching storage: one call per batch written. */
  observeStorageBatch(kind: 'timeseries' | 'attributes', size: number, seconds: number, ok: boolean): void;
  /** Hands over the sources once the components exist (before: only process metrics). */
  setSources(sources: MetricsSources): void;
}

export function createMetrics(o: { token: string | undefined; info: { roles: readonly string[]; queue: string; storage: string; nodeId: string } }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({ name: 'rivulet_info', help: 'This process: its roles, queue and storage kind (always 1).', labelNames: ['roles', 'queue', 'storage', 'node'], registers: [registry] }).set(
    { roles: [...o.info.roles].sort().join(','), queue: o.info.queue, storage: o.info.storage, node: o.info.nodeId },
    1,
  );
  const storage = storageMetrics(registry);
  let sourcesSet = false;
  const tokenDigest = o.token === undefined ? undefined : digest(o.token);

  function allowed(req: IncomingMessage): { ok: true } | { ok: false; status: number; message: string } {
    if (tokenDigest) {
      const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
      if (m && timingSafeEqual(digest(m[1]!.trim()), tokenDigest)) return { ok: true };
      return { ok: false, status: 401, message: 'Metrics need Authorization: Bearer <RIVULET_METRICS_TOKEN>' };
    }
    const forwarded = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined;
    if (!forwarded && isLoopback(req.socket.remoteAddress)) return { ok: true };
    return { ok: false, status: 403, message: 'Metrics are served to loopback clients only; set RIVULET_METRICS_TOKEN to scrape from elsewhere' };
  }

  return {
    handle(req, res) {
      if (req.url?.split('?')[0] !== METRICS_PATH) return false;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
        res.end('Method not allowed\n');
        return true;
      }
      const a = allowed(req);
      if (!a.ok) {
        res.writeHead(a.status, { 'content-type': 'text/plain', ...(a.status === 401 ? { 'www-authenticate': 'Bearer realm="metrics"' } : {}) });
        res.end(`${a.message}\n`);
        return true;
      }
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (e: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`Metrics could not be collected: ${e instanceof Error ? e.message : String(e)}\n`);
        },
      );
      return true;
    },
    scrape: () => registry.metrics(),
    observeStorageBatch: storage.observeBatch,
    setSources(sources) {
      if (sourcesSet) throw new Error('metrics sources are set once');
      sourcesSet = true;
      registerCollectors(registry, sources);
    },
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
