import { Agent, request, type IncomingMessage } from 'node:http';
import type { SimDevice } from '../devices';
import { SendError, type DeviceConnection, type ProtocolClient } from './types';

export interface HttpClientOptions {
  /** Base URL of the platform, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Keep-alive sockets shared by all devices. */
  maxSockets?: number;
  timeoutMs?: number;
}

/** Devices over ThingsBoard's HTTP device API: POST /api/v1/{token}/telemetry on pooled keep-alive sockets. */
export function createHttpClient(opts: HttpClientOptions): ProtocolClient {
  const base = new URL(opts.url);
  if (base.protocol !== 'http:') throw new Error(`--url must be http:// for the HTTP device API (got ${base.protocol})`);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 100 });
  const prefix = base.pathname.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 30_000;

  return {
    protocol: 'http',
    async connect(device: SimDevice) {
      const path = (kind: string) => `${prefix}/api/v1/${encodeURIComponent(device.token)}/${kind}`;
      const paths = { telemetry: path('telemetry'), attributes: path('attributes') };
      const conn: DeviceConnection = {
        send(kind, payload, done) {
          let finished = false;
          const finish = (e?: Error) => {
            if (finished) return;
            finished = true;
            done(e);
          };
          const req = request(
            {
              agent,
              host: base.hostname,
              port: base.port || 80,
              method: 'POST',
              path: paths[kind],
              headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
              timeout: timeoutMs,
            },
            (res: IncomingMessage) => {
              res.resume();
              res.on('end', () => finish(res.statusCode === 200 ? undefined : new SendError(`HTTP_${res.statusCode}`, `${device.name}: HTTP ${res.statusCode}`)));
              res.on('error', (e) => finish(new SendError('HTTP_ERROR', e.message, { cause: e })));
            },
          );
          req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
          req.on('error', (e) => finish(new SendError('HTTP_ERROR', `${device.name}: ${e.message}`, { cause: e })));
          req.end(payload);
        },
        async close() {
          // Sockets belong to the shared agent.
        },
      };
      return conn;
    },
    async close() {
      agent.destroy();
    },
  };
}
