import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join, resolve } from 'node:path';
import { createDeviceRateLimiter, silentLogger, type Logger, type RateLimitStats, type TenantLimitsSource } from '@rivulet/core';
import { bootstrapSysAdmin, bootstrapTenant } from '@rivulet/api';
import { Topics, type Queue } from '@rivulet/queue';
import { createDeadLetterStore, deadLetterTopicOf, type DeadLetterStore, type RuleEngine } from '@rivulet/rule-engine';
import { defaultRootChain } from '@rivulet/rule-nodes';
import type { Storage } from '@rivulet/storage';
import { createEmbeddedStorage, createPostgresStorage } from '@rivulet/storage-postgres';
import { globalTenantLimits, httpLimits, type Config } from './config';
import { answerClientError, applyHttpTimeouts, connectionsCheckingInterval, limitHttpConnections, type HttpConnectionStats } from './http-limits';
import { createCachedAuthenticator } from './device-services';
import { createDeviceProvisioningService } from './device-provisioning';
import { createDeviceClaimingService } from './device-claiming';
import { createLiveStorage } from './live-storage';
import { createProfileTenantLimits, type ProfileTenantLimits } from './tenant-limits';
import { createServerStats } from './server-stats';
import { securePrivateDir } from './data-dir';
import { createHttpsServer, listen, loadTlsMaterial, mqttTlsOptions, reloadTls, reportTlsMaterial } from './tls';
import { createMessaging } from './messaging';
import { createRuleServices } from './rule-services';
import { createReadiness } from './readiness';
import { deadLetterAdmin } from './dead-letters';
import { createMetrics, metricsSources } from './metrics';
import { startRuleEngineRole, type RuleEngineRole } from './roles/rule-engine-role';
import { startTransportRole, type TransportRole } from './roles/transport-role';
import { startApiRole, type ApiRole } from './roles/api-role';

export interface Rivulet {
  /** Base URL of the HTTP server, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly port: number;
  /** Port of the MQTT transport (undefined when this process does not run the transport role). */
  readonly mqttPort: number | undefined;
  /** UDP port of the CoAP transport (undefined when this process does not run the transport role). */
  readonly coapPort: number | undefined;
  readonly storage: Storage;
  readonly queue: Queue;
  readonly tenantId: string;
  /** HTTPS (same routes as `url`) and MQTT over TLS, when RIVULET_TLS_CERT / RIVULET_TLS_KEY are set. */
  readonly httpsUrl: string | undefined;
  readonly httpsPort: number | undefined;
  readonly mqttTlsPort: number | undefined;
  /** Reads the TLS certificate and key again for new connections (SIGHUP); false when TLS is off or they do not load. */
  reloadTls(): boolean;
  /** Set on the first start when no admin password was configured: shown once. */
  readonly generatedAdminPassword: string | undefined;
  /** Set when the system administrator was created with a generated password: shown once. */
  readonly generatedSysAdminPassword: string | undefined;
  readonly ruleEngine: RuleEngine | undefined;
  /** The newest dead letters of the rule engine (list, replay); with the api role. */
  readonly deadLetters: DeadLetterStore | undefined;
  /** Each tenant's limits (its tenant profile over the RIVULET_* defaults). */
  readonly tenantLimits: ProfileTenantLimits;
  /** Device messages held back or refused by the device and tenant rate limits, per transport and reason. */
  rateLimitStats(): RateLimitStats;
  /** Connections of the plain HTTP server: open, refused at the limit, idle ones closed to make room. */
  httpConnectionStats(): HttpConnectionStats;
  /** Graceful stop: transports stop accepting, the queue drains, then storage closes. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Storage already opened by the caller (tests inject a fault-injecting one this way). */
  storage?: Storage;
}

/**
 * The composition root: picks implementations from config (embedded or Postgres storage; memory or
 * Kafka queue and broadcast, in messaging.ts) and starts the roles this process runs (roles/).
 * Nothing else in the tree reads config.
 */
export async function startRivulet(config: Config, options: StartOptions = {}): Promise<Rivulet> {
  const logger = options.logger ?? silentLogger;
  const roles = new Set(config.RIVULET_ROLES);
  const dataDir = resolve(config.RIVULET_DATA_DIR);
  // Queue and broadcast first: a Kafka setting that cannot work refuses start before anything opens.
  const messaging = await createMessaging(config, logger);
  const { queue, broadcast } = messaging;

  // TLS certificate and key checked before anything opens or listens (a bad pair refuses start).
  const tls = loadTlsMaterial(config);
  if (tls) reportTlsMaterial(tls, logger);
  // The data directory (embedded database, generated JWT secret) is owner-only, tightened if it was not.
  if ((!options.storage && !config.DATABASE_URL) || (!config.RIVULET_JWT_SECRET && roles.has('api'))) securePrivateDir({ dir: dataDir, entries: ['pglite', 'jwt-secret'], logger });
  const rawStorage =
    options.storage ??
    (config.DATABASE_URL
      ? await createPostgresStorage({ url: config.DATABASE_URL, poolSize: config.RIVULET_DB_POOL_SIZE, logger })
      : await createEmbeddedStorage({ dataDir: join(dataDir, 'pglite'), logger }));
  // Prometheus metrics at /metrics on this process's HTTP listener (read from the components' counters at scrape time).
  const metrics = createMetrics({ token: config.RIVULET_METRICS_TOKEN, info: { roles: [...roles], queue: queue.kind, storage: rawStorage.kind, nodeId: messaging.nodeId } });
  const storage = createLiveStorage(rawStorage, broadcast, {
    writeConcurrency: rawStorage.kind === 'embedded' ? 1 : Math.max(1, Math.floor(config.RIVULET_DB_POOL_SIZE / 2)),
    onBatch: metrics.observeStorageBatch,
  });

  // Every tenant has a tenant profile: the default one exists before the first tenant is created.
  await storage.tenantProfiles.ensureDefault();
  const boot = await bootstrapTenant({
    storage,
    adminEmail: config.RIVULET_ADMIN_EMAIL,
    ...(config.RIVULET_ADMIN_PASSWORD ? { adminPassword: config.RIVULET_ADMIN_PASSWORD } : {}),
    passwordPolicy: { minLength: config.RIVULET_PASSWORD_MIN_LENGTH },
    logger,
  });
  const sysAdmin = await bootstrapSysAdmin({
    storage,
    email: config.RIVULET_SYSADMIN_EMAIL,
    ...(config.RIVULET_SYSADMIN_PASSWORD ? { password: config.RIVULET_SYSADMIN_PASSWORD } : {}),
    logger,
  });
  // Every tenant starts with the default root chain (the bootstrap one here, new ones when the system administrator creates them).
  async function ensureRootChain(tenantId: string): Promise<void> {
    if (await storage.ruleChains.getRoot(tenantId)) return;
    const chain = defaultRootChain();
    await storage.ruleChains.save({
      id: globalThis.crypto.randomUUID(),
      tenantId,
      name: chain.ruleChain.name,
      root: true,
      debugMode: false,
      metadata: chain.metadata as never,
    });
    logger.info({ tenantId }, 'default root rule chain created');
  }
  await ensureRootChain(boot.tenantId);

  // The limits each tenant is held to (its tenant profile over the RIVULET_* defaults); every
  // transport, the API and the rule engine ask it for the tenant they serve.
  const profileLimits = await createProfileTenantLimits({ storage, broadcast, global: globalTenantLimits(config), logger });
  const tenantLimits: TenantLimitsSource = profileLimits;
  // One budget per device and per tenant, whatever transport a message comes by.
  const rateLimiter = createDeviceRateLimiter({ limits: tenantLimits, logger });

  // What rule nodes get, bound to one tenant: the rule engine runs chains on it, the API's test runs too.
  const rules = createRuleServices({ config, storage, broadcast, queue, tenantLimits, logger });
  let ruleEngine: RuleEngineRole | undefined;
  if (roles.has('rule-engine')) ruleEngine = await startRuleEngineRole({ config, storage, queue, broadcast, rules, tenantLimits, logger });

  // Liveness and readiness of this process (database answers, queue connected, roles started).
  const readiness = createReadiness({ roles: [...roles], database: () => storage.tenantProfiles.getDefault(), queue: () => messaging.ping() });
  const auth = createCachedAuthenticator({ storage, broadcast });
  let transport: TransportRole | undefined;
  if (roles.has('transport')) {
    transport = await startTransportRole({
      config,
      storage,
      queue,
      broadcast,
      auth,
      rateLimiter,
      tenantLimits,
      tls,
      logger,
      // device provisioning and claiming on storage: the API process reads what the transport stored
      provisioning: createDeviceProvisioningService({ storage, queue, broadcast, tenantLimits, logger }),
      claiming: createDeviceClaimingService({ storage, defaultDurationMs: config.RIVULET_CLAIM_DURATION_MS, allowClaimingByDefault: config.RIVULET_CLAIM_ALLOW_BY_DEFAULT, logger }),
      // the connection cap (below) may end the oldest long poll to admit a new client
      onLongPoll: (res, endNow) => {
        httpConnections.parkLongPoll(res, endNow);
        httpsListener?.connections.parkLongPoll(res, endNow);
      },
    });
  }
  const mqttPort = transport?.mqttPort;
  const coapPort = transport?.coapPort;
  // httpConnections is set up with the server below; read only once the server answers
  const serverStats = createServerStats({ queue, ruleEngine: () => ruleEngine?.engine, rateLimits: () => rateLimiter.stats(), httpConnections: () => httpConnections.stats() });
  // Messages the engine gave up on: the admin API's view of the dead-letter topic, a group per
  // process so each API process sees them all (with the memory queue it also keeps that topic drained).
  const deadLetters = roles.has('api')
    ? createDeadLetterStore({ queue, topic: deadLetterTopicOf(Topics.RULE_ENGINE), replayTopic: Topics.RULE_ENGINE, group: `dead-letters.${messaging.nodeId}`, logger })
    : undefined;
  await deadLetters?.start();
  let apiRole: ApiRole | undefined;
  if (roles.has('api')) {
    apiRole = startApiRole({
      config,
      dataDir,
      storage,
      broadcast,
      queue,
      rules,
      tenantLimits,
      logger,
      isReady: () => readiness.ready(),
      readiness: () => readiness.check(),
      initTenant: ensureRootChain,
      serverStats: (o) => serverStats.read(o),
      deviceConnectivity: { mqttPort: mqttPort ?? config.RIVULET_MQTT_PORT, coapPort: coapPort ?? config.RIVULET_COAP_PORT, publicHost: config.RIVULET_PUBLIC_HOST },
      ruleEngine: () => ruleEngine?.engine,
      ...(deadLetters ? { deadLetters: deadLetterAdmin(deadLetters) } : {}),
    });
  }
  const api = apiRole?.api;
  metrics.setSources(
    metricsSources({
      queue,
      transport: () => transport,
      ruleEngine: () => ruleEngine?.engine,
      api: () => api,
      rateLimits: () => rateLimiter.stats(),
      // httpConnections is set up with the server below; a scrape comes only once it listens
      httpConnections: () => httpConnections.stats(),
    }),
  );

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      if (metrics.handle(req, res)) return;
      if (transport?.http.handle(req, res)) return;
      if (api?.handle(req, res)) return;
      if (apiRole?.webApp(req, res)) return;
      if (readiness.handle(req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 404, message: `No route for ${req.method} ${req.url}`, errorCode: 32, timestamp: Date.now() }));
    } catch (e) {
      logger.error({ err: e }, 'unhandled error in request handler');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 500, message: 'Internal server error', errorCode: 2, timestamp: Date.now() }));
    }
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (transport?.mqttWs.handleUpgrade(req, socket, head)) return;
    if (!api?.handleUpgrade(req, socket, head)) socket.destroy();
  };
  const limits = httpLimits(config);
  // the timer that enforces the header and request timeouts ticks often enough for them (Node's default: 30 s)
  const server: Server = createServer({ connectionsCheckingInterval: connectionsCheckingInterval(limits) }, onRequest);
  server.on('upgrade', onUpgrade);
  applyHttpTimeouts(server, limits);
  const httpConnections = limitHttpConnections(server, limits, logger);
  // 408 for the header and request timeouts, 431 for oversize headers, else 400
  server.on('clientError', answerClientError);
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(config.RIVULET_HTTP_PORT, config.RIVULET_HTTP_HOST, () => {
      server.off('error', rej);
      res();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.RIVULET_HTTP_HOST === '0.0.0.0' || config.RIVULET_HTTP_HOST === '::' ? '127.0.0.1' : config.RIVULET_HTTP_HOST;
  const httpsListener = tls ? createHttpsServer({ tls, onRequest, onUpgrade, logger, limits }) : undefined;
  const https = httpsListener?.server;
  const httpsHost = config.RIVULET_HTTPS_HOST ?? config.RIVULET_HTTP_HOST;
  const httpsPort = https ? await listen(https, config.RIVULET_HTTPS_PORT, httpsHost) : undefined;
  readiness.markStarted();
  logger.info({ port, roles: [...roles], queue: queue.kind }, 'rivulet started');

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    httpsUrl: httpsPort === undefined ? undefined : `https://${httpsHost === '0.0.0.0' || httpsHost === '::' ? '127.0.0.1' : httpsHost}:${httpsPort}`,
    httpsPort,
    mqttPort,
    mqttTlsPort: transport?.mqttTlsPort,
    reloadTls: () =>
      tls !== undefined &&
      reloadTls({
        config,
        logger,
        apply: [(t) => https?.setSecureContext({ cert: t.cert, key: t.key }), (t) => transport?.mqtt.setSecureContext(mqttTlsOptions(t))],
      }),
    coapPort,
    storage,
    queue,
    tenantId: boot.tenantId,
    generatedAdminPassword: boot.generatedPassword,
    generatedSysAdminPassword: sysAdmin.generatedPassword,
    ruleEngine: ruleEngine?.engine,
    deadLetters,
    tenantLimits: profileLimits,
    rateLimitStats: () => rateLimiter.stats(),
    httpConnectionStats: () => httpConnections.stats(),
    stop() {
      stopping ??= (async () => {
        readiness.markStopping();
        // 1. Transports stop accepting (MQTT, MQTT over WebSocket, CoAP, then the HTTP device API).
        await transport?.stopAccepting();
        const closed = Promise.all([server, https].map((s) => s && new Promise<void>((r) => s.close(() => r()))));
        server.closeIdleConnections();
        https?.closeIdleConnections();
        // 2. Whatever was accepted is processed: the rule engine drains the queue.
        const deadline = setTimeout(() => {
          logger.warn({ timeoutMs: config.RIVULET_SHUTDOWN_TIMEOUT_MS }, 'shutdown timeout: closing connections');
          server.closeAllConnections();
          https?.closeAllConnections();
        }, config.RIVULET_SHUTDOWN_TIMEOUT_MS);
        deadline.unref();
        await ruleEngine?.stop();
        await deadLetters?.stop();
        await rules.close();
        server.closeAllConnections();
        https?.closeAllConnections();
        // Upgraded (WebSocket) connections are not HTTP connections: closeAllConnections leaves them
        // and the servers' close would wait for them forever. The API closes its sockets first.
        await api?.close();
        await closed;
        clearTimeout(deadline);
        auth.close();
        profileLimits.close();
        rules.closeRpc();
        await queue.close();
        await messaging.close();
        serverStats.close();
        // gateway sessions end; device state writes what is pending
        await transport?.close();
        // 3. Storage last (flushes batched writes first).
        await storage.close();
        logger.info({}, 'rivulet stopped');
      })();
      return stopping;
    },
  };
}
