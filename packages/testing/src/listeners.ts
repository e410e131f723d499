import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP listener that counts the TCP connections made to it (SSRF tests assert it stays at
 * zero) and the requests it answered. `handler` answers; the default replies 200 with `body`.
 */
export interface CountingListener {
  readonly host: string;
  readonly port: number;
  /** TCP connections accepted so far. */
  connections(): number;
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
  close(): Promise<void>;
}

export async function startCountingListener(options: {
  host?: string;
  body?: string;
  handler?: (req: IncomingMessage, res: ServerResponse) => void;
} = {}): Promise<CountingListener> {
  const host = options.host ?? '127.0.0.1';
  let connections = 0;
  const requests: CountingListener['requests'] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (options.handler) options.handler(req, res);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(options.body ?? '{"reached":true}');
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    host,
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    requests,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}
