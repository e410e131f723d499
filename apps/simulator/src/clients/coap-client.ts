import { createSocket, type Socket } from 'node:dgram';
import * as coap from 'coap';
import type { SimDevice } from '../devices';
import { SendError, type DeviceConnection, type ProtocolClient } from './types';

export interface CoapClientOptions {
  /** coap://host:port */
  url: string;
}

/**
 * Devices over CoAP: confirmable POST /api/v1/{token}/telemetry, acknowledged by 2.01 Created.
 * Each device has its own UDP socket (its own endpoint, as a real device has): one endpoint may not
 * reuse a message ID within EXCHANGE_LIFETIME (RFC 7252 4.4, 247 s), so one socket shared by all
 * devices could send at most 65,536 / 247 s = 265 confirmable messages per second; past that the
 * server rightly takes a reused ID for a retransmission and answers it from its duplicate cache.
 */
export function createCoapClient(opts: CoapClientOptions): ProtocolClient {
  const u = new URL(opts.url);
  if (u.protocol !== 'coap:') throw new Error(`--url must be coap:// for CoAP (got ${u.protocol})`);
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 5683);
  const sockets = new Set<Socket>();
  const closeSocket = (socket: Socket) =>
    new Promise<void>((r) => {
      sockets.delete(socket);
      try {
        socket.close(() => r());
      } catch {
        r(); // already closed
      }
    });

  return {
    protocol: 'coap',
    async connect(device: SimDevice) {
      // The agent gets a socket of ours: left to itself it closes its socket whenever no request is in
      // flight (and its close() then throws on the closed socket), which a load generator hits constantly.
      const socket: Socket = createSocket(u.hostname.includes(':') ? 'udp6' : 'udp4');
      sockets.add(socket);
      const agent = new coap.Agent({ socket });
      const conn: DeviceConnection = {
        send(kind, payload, done) {
          let finished = false;
          const finish = (e?: Error) => {
            if (finished) return;
            finished = true;
            done(e);
          };
          const req = agent.request({ hostname, port, pathname: `/api/v1/${device.token}/${kind}`, method: 'POST', confirmable: true });
          req.setOption('Content-Format', 'application/json');
          req.on('response', (res: coap.IncomingMessage) => {
            res.resume?.();
            const code = String(res.code);
            finish(code === '2.01' || code === '2.04' ? undefined : new SendError(`COAP_${code}`, `${device.name}: CoAP ${code}`));
          });
          req.on('error', (e: Error) => finish(new SendError('COAP_ERROR', `${device.name}: ${e.message}`, { cause: e })));
          req.on('timeout', (e: Error) => finish(new SendError('COAP_TIMEOUT', `${device.name}: ${e?.message ?? 'timeout'}`)));
          req.end(Buffer.from(payload));
        },
        close: () => closeSocket(socket),
      };
      return conn;
    },
    async close() {
      await Promise.all([...sockets].map(closeSocket));
    },
  };
}
