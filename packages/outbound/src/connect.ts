import { connect as netConnect, Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { parseIp } from './ip';
import { stripBrackets, type OutboundPolicy } from './policy';

export interface CheckedConnectOptions {
  host: string;
  port: number;
  /** TLS options (ca, cert, key, servername, ALPNProtocols, ...): connect with TLS. */
  tls?: ConnectionOptions;
}

/**
 * A TCP (or TLS) connection the policy allows, returned at once (callers such as http's
 * createConnection and mqtt.js's stream builder need a socket synchronously). A literal address is
 * checked here; a name is resolved by the policy's lookup, which hands net.connect allowed
 * addresses only, so the address connected to is the one checked (no second resolution to rebind).
 * A denied call gives a socket that emits the OutboundDeniedError and never connects.
 */
export function connectChecked(policy: OutboundPolicy, options: CheckedConnectOptions): Socket {
  const host = stripBrackets(options.host);
  const literal = parseIp(host) !== null;
  if (literal || host === '') {
    try {
      policy.assertAllowed(host === '' ? 'localhost' : host, host);
    } catch (e) {
      const s = new Socket();
      process.nextTick(() => s.destroy(e as Error));
      return s;
    }
  }
  const socket = options.tls
    ? tlsConnect({ ...options.tls, host, port: options.port, lookup: policy.lookup, ...(literal || options.tls.servername ? {} : { servername: host }) })
    : netConnect({ host, port: options.port, lookup: policy.lookup });
  // Belt and braces: whatever path led here, the peer must be an allowed address.
  socket.once('connect', () => {
    const remote = socket.remoteAddress;
    if (!remote) return;
    const v = policy.verdict(remote, host);
    if (!v.allowed) {
      try {
        policy.assertAllowed(remote, host);
      } catch (e) {
        socket.destroy(e as Error);
      }
    }
  });
  return socket;
}
