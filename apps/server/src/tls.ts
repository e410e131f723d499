import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener } from 'node:http';
import { createServer as createNodeHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createSecureContext, type TlsOptions } from 'node:tls';
import type { Logger } from '@rivulet/core';
import { ConfigError, type Config } from './config';
import { answerClientError, applyHttpTimeouts, connectionsCheckingInterval, limitHttpConnections, type HttpConnections, type HttpLimits } from './http-limits';

/** The server's certificate and key, read and checked once at start. */
export interface TlsMaterial {
  /** PEM: the certificate followed by its intermediates, as configured. */
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly subject: string;
  readonly subjectAltName: string | undefined;
  readonly validFrom: Date;
  readonly validTo: Date;
  readonly fingerprint256: string;
  /** PEM CA certificates MQTT clients' certificates must chain to (RIVULET_MQTT_TLS_CLIENT_CA). */
  readonly mqttClientCa: Buffer | undefined;
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String((e as Error).message);
    throw new ConfigError(`Invalid configuration:\n  ${variable}: cannot read ${path} (${why})`);
  }
}

/**
 * RIVULET_TLS_CERT / RIVULET_TLS_KEY read and checked: both files readable, the certificate a PEM
 * X.509 certificate, the key a PEM private key that is not passphrase-protected, and the key the one
 * the certificate was issued for. Any of these failing is a ConfigError naming the variable (main.ts
 * prints it and exits 2) before anything listens or the database is opened. Undefined when TLS is
 * not configured.
 */
export function loadTlsMaterial(config: Pick<Config, 'RIVULET_TLS_CERT' | 'RIVULET_TLS_KEY' | 'RIVULET_MQTT_TLS_CLIENT_CA'>): TlsMaterial | undefined {
  const certPath = config.RIVULET_TLS_CERT;
  const keyPath = config.RIVULET_TLS_KEY;
  if (!certPath || !keyPath) return undefined;
  const fail = (variable: string, message: string): never => {
    throw new ConfigError(`Invalid configuration:\n  ${variable}: ${message}`);
  };
  const cert = readPem('RIVULET_TLS_CERT', certPath);
  const key = readPem('RIVULET_TLS_KEY', keyPath);

  let x509: X509Certificate | undefined;
  if (!cert.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) fail('RIVULET_TLS_CERT', `${certPath} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    fail('RIVULET_TLS_CERT', `${certPath} does not parse as an X.509 certificate (${(e as Error).message})`);
  }
  let privateKey: KeyObject | undefined;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    const msg = (e as Error).message;
    const encrypted = /passphrase|encrypted|bad decrypt/i.test(msg) || key.toString('latin1').includes('ENCRYPTED');
    fail(
      'RIVULET_TLS_KEY',
      encrypted
        ? `${keyPath} is passphrase-protected; give Rivulet an unencrypted key (e.g. openssl pkey -in ${keyPath} -out key.pem) kept 0600`
        : `${keyPath} does not parse as a PEM private key (${msg})`,
    );
  }
  if (!x509!.checkPrivateKey(privateKey!)) {
    fail('RIVULET_TLS_KEY', `${keyPath} is not the private key of the certificate in ${certPath} (subject ${x509!.subject.replace(/\n/g, ', ')})`);
  }
  try {
    // what the listeners will do with them: catches anything the checks above let through
    createSecureContext({ cert, key });
  } catch (e) {
    fail('RIVULET_TLS_CERT', `${certPath} and ${keyPath} are not usable together (${(e as Error).message})`);
  }
  const caPath = config.RIVULET_MQTT_TLS_CLIENT_CA;
  const mqttClientCa = caPath ? readPem('RIVULET_MQTT_TLS_CLIENT_CA', caPath) : undefined;
  if (caPath && mqttClientCa) {
    const blocks = mqttClientCa.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) fail('RIVULET_MQTT_TLS_CLIENT_CA', `${caPath} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    for (const [i, pem] of blocks.entries()) {
      try {
        const ca = new X509Certificate(pem);
        if (!ca.ca) fail('RIVULET_MQTT_TLS_CLIENT_CA', `certificate ${i + 1} in ${caPath} (${ca.subject.replace(/\n/g, ', ')}) is not a CA certificate`);
      } catch (e) {
        if (e instanceof ConfigError) throw e;
        fail('RIVULET_MQTT_TLS_CLIENT_CA', `certificate ${i + 1} in ${caPath} does not parse (${(e as Error).message})`);
      }
    }
  }
  return {
    mqttClientCa,
    cert,
    key,
    subject: x509!.subject.replace(/\n/g, ', '),
    subjectAltName: x509!.subjectAltName,
    validFrom: new Date(x509!.validFrom),
    validTo: new Date(x509!.validTo),
    fingerprint256: x509!.fingerprint256,
  };
}

/** node:tls options of the MQTT TLS listener: mutual TLS when a client CA is configured. */
export function mqttTlsOptions(tls: TlsMaterial): TlsOptions {
  if (!tls.mqttClientCa) return { cert: tls.cert, key: tls.key };
  return { cert: tls.cert, key: tls.key, ca: tls.mqttClientCa, requestCert: true, rejectUnauthorized: true };
}

/** Logs what was loaded, and warns when the certificate is not (or no longer) valid: clients will refuse it. */
export function reportTlsMaterial(tls: TlsMaterial, logger: Logger, now = Date.now()): void {
  const fields = { subject: tls.subject, subjectAltName: tls.subjectAltName, validTo: tls.validTo.toISOString(), fingerprint256: tls.fingerprint256 };
  if (tls.validTo.getTime() < now) logger.warn(fields, 'TLS certificate has expired: clients will refuse it');
  else if (tls.validFrom.getTime() > now) logger.warn({ ...fields, validFrom: tls.validFrom.toISOString() }, 'TLS certificate is not valid yet: clients will refuse it');
  else logger.info(fields, 'TLS certificate loaded');
}

/** TCP connections allowed beyond the HTTPS connection limit while their TLS handshake runs. */
const HANDSHAKE_ALLOWANCE = 1024;

/**
 * HTTPS beside the plain HTTP server: the same request and upgrade handlers (device API, REST API,
 * WebSocket /api/ws and MQTT over WebSocket /mqtt), so nothing differs but the transport.
 */
export function createHttpsServer(options: {
  tls: TlsMaterial;
  onRequest: RequestListener;
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  logger: Logger;
  limits: HttpLimits;
}): { server: HttpsServer; connections: HttpConnections } {
  const server = createNodeHttpsServer(
    { cert: options.tls.cert, key: options.tls.key, handshakeTimeout: 10_000, connectionsCheckingInterval: connectionsCheckingInterval(options.limits) },
    options.onRequest,
  );
  server.on('upgrade', options.onUpgrade);
  // 408 for the header and request timeouts, 431 for oversize headers, else 400
  server.on('clientError', answerClientError);
  // failed handshakes (plain text on the TLS port, a client that does not trust the certificate)
  server.on('tlsClientError', (err) => options.logger.debug({ error: err.message }, 'https handshake failed'));
  applyHttpTimeouts(server, options.limits);
  // Counted once the handshake is done (request sockets are the TLS sockets); sockets still in their
  // handshake (at most handshakeTimeout) are bounded by the listener's own cap beside it.
  const connections = limitHttpConnections(server, options.limits, options.logger, 'secureConnection');
  server.maxConnections = options.limits.maxConnections + HANDSHAKE_ALLOWANCE;
  return { server, connections };
}

/**
 * Reads RIVULET_TLS_CERT / RIVULET_TLS_KEY (and the client CA) again and hands them to the running
 * listeners (SIGHUP, after a certificate renewal): new connections get the new certificate, open
 * ones keep theirs. Files that do not load or match are logged and change nothing: the listeners
 * keep serving the certificate they have. Returns whether the new files are in use.
 */
export function reloadTls(options: {
  config: Pick<Config, 'RIVULET_TLS_CERT' | 'RIVULET_TLS_KEY' | 'RIVULET_MQTT_TLS_CLIENT_CA'>;
  apply: Array<(tls: TlsMaterial) => void>;
  logger: Logger;
}): boolean {
  let tls: TlsMaterial | undefined;
  try {
    tls = loadTlsMaterial(options.config);
  } catch (e) {
    options.logger.error({ error: (e as Error).message.replace(/^Invalid configuration:\n\s*/, '') }, 'TLS reload failed: still serving the previous certificate');
    return false;
  }
  if (!tls) return false;
  for (const apply of options.apply) apply(tls);
  reportTlsMaterial(tls, options.logger);
  return true;
}

/** Listens; resolves with the port actually bound (0 picks a free one). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
