import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { createDeviceRateLimiter, silentLogger, type Logger, type RateLimitStats, type TenantLimitsSource } from '@rivulet/core';
import { createApi, createStaticFiles, bootstrapSysAdmin, bootstrapTenant, toRuleChainExport, type Api } from '@rivulet/api';
import { createMemoryBroadcast, createMemoryQueue, type Broadcast, type Queue } from '@rivulet/queue';
import {
  createBatchedDebugSink,
  createNodeRegistry,
  createRuleChainService,
  createRuleEngine,
  createTenantServices,
  type BatchedDebugSink,
  type DebugEvent,
  type RuleEngine,
  type RuleNodeServices,
} from '@rivulet/rule-engine';
import { builtinNodes, defaultRootChain } from '@rivulet/rule-nodes';
import { createOutbound } from '@rivulet/outbound';
import type { Storage } from '@rivulet/storage';
import { createEmbeddedStorage, createPostgresStorage } from '@rivulet/storage-postgres';
import { createCoapTransport, type CoapTransport } from '@rivulet/transport-coap';
import { createHttpTransport, type HttpTransport } from '@rivulet/transport-http';
import { createMqttTransport, type MqttTransport } from '@rivulet/transport-mqtt';
import { globalTenantLimits, httpLimits, trustedProxyList, type Config } from './config';
import { answerClientError, applyHttpTimeouts, connectionsCheckingInterval, limitHttpConnections, type HttpConnectionStats } from './http-limits';
import { createCachedAuthenticator, createDeviceApiService } from './device-services';
import { createDeviceStateService, type DeviceStateService } from './device-state';
import { createGatewayDeviceService } from './gateway-devices';
import { createMqttWebSocket } from './mqtt-websocket';
import { createRuleRpcService } from './rule-rpc';
import { createLiveStorage } from './live-storage';
import { createProfileTenantLimits, type ProfileTenantLimits } from './tenant-limits';
import { createServerStats } from './server-stats';
import { createNodeCapabilities } from './node-capabilities';
import { resolveJwtSecret } from './secrets';
import { securePrivateDir } from './data-dir';
import { createHttpsServer, listen, loadTlsMaterial, mqttTlsOptions, reloadTls, reportTlsMaterial } from './tls';

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
 * The composition root: picks implementations from config (embedded or Postgres storage, memory
 * queue) and starts the roles this process runs. Nothing else in the tree reads config.
 */
export async function startRivulet(config: Config, options: StartOptions = {}): Promise<Rivulet> {
  const logger = options.logger ?? silentLogger;
  const roles = new Set(config.RIVULET_ROLES);
  const dataDir = resolve(config.RIVULET_DATA_DIR);
  if (config.RIVULET_QUEUE === 'kafka') {
    throw new Error('RIVULET_QUEUE=kafka is not available in this build yet: use memory (the default)');
  }

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
  const broadcast: Broadcast<unknown> = createMemoryBroadcast<unknown>();
  const storage = createLiveStorage(rawStorage, broadcast, { writeConcurrency: rawStorage.kind === 'embedded' ? 1 : Math.max(1, Math.floor(config.RIVULET_DB_POOL_SIZE / 2)) });

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

  const queue = createMemoryQueue({
    partitions: config.RIVULET_QUEUE_PARTITIONS,
    capacity: config.RIVULET_QUEUE_CAPACITY,
    logger,
  });

  const registry = createNodeRegistry(builtinNodes);
  const ruleRpc = createRuleRpcService(broadcast, { pickupTimeoutMs: config.RIVULET_RPC_PICKUP_TIMEOUT_MS });
  // Device lookups (cached), nested chains for the rule chain node, the script sandbox (a worker thread).
  const nodeCapabilities = createNodeCapabilities({
    storage,
    broadcast,
    registry,
    logger,
    servicesFor: (tenantId) => servicesFor(tenantId),
    debugSink: () => debugSink,
    // Each tenant's scripts get its own time and memory limits when they compile (tenantLimits);
    // these are the defaults for scripts run for no tenant, and when strikes disable a script.
    scripts: {
      timeoutMs: config.RIVULET_SCRIPT_TIMEOUT_MS,
      memoryLimitBytes: config.RIVULET_SCRIPT_MEMORY_MB * 1024 * 1024,
      strikes: { maxStrikes: config.RIVULET_SCRIPT_MAX_STRIKES, windowMs: config.RIVULET_SCRIPT_STRIKE_WINDOW_MS, cooldownMs: config.RIVULET_SCRIPT_DISABLE_COOLDOWN_MS, maxTenantHardKills: config.RIVULET_SCRIPT_MAX_TENANT_HARD_KILLS },
    },
  });
  // REST API call and MQTT publish nodes: every connection checked against RIVULET_OUTBOUND_*.
  const outbound = createOutbound({ allow: config.RIVULET_OUTBOUND_ALLOW, deny: config.RIVULET_OUTBOUND_DENY, logger });
  const nodeServices: RuleNodeServices = {
    ...nodeCapabilities.services,
    logger,
    timeseries: storage.timeseries,
    attributes: storage.attributes,
    now: () => Date.now(),
    rpc: ruleRpc,
    // Create / clear alarm nodes: one active alarm per originator and type, enforced by storage.
    alarms: storage.alarms,
    outbound,
  };
  // Every chain, nested chain and test run runs on these bound to its tenant: another tenant's entities are refused.
  const servicesFor = createTenantServices({ base: nodeServices, ownership: nodeCapabilities.ownership, limits: tenantLimits });
  let ruleEngine: RuleEngine | undefined;
  let debugSink: BatchedDebugSink | undefined;
  let debugRetention: ReturnType<typeof setInterval> | undefined;
  if (roles.has('rule-engine')) {
    // Debug events leave the hot path through a buffer; each node keeps its newest N, for a while.
    debugSink = createBatchedDebugSink({
      // Each tenant's events are capped at its maxDebugEventsPerNode (0: no cap).
      write: (events) => saveDebugEvents(storage, events, tenantLimits),
      logger,
    });
    const ttlMs = config.RIVULET_DEBUG_EVENTS_TTL_SECONDS * 1000;
    debugRetention = setInterval(() => {
      storage.debugEvents.deleteOlderThan(Date.now() - ttlMs).catch((e: unknown) => logger.warn({ err: String(e) }, 'debug event retention failed'));
    }, Math.min(ttlMs, 3_600_000));
    debugRetention.unref();
    ruleEngine = createRuleEngine({
      queue,
      registry,
      logger,
      maxRetries: config.RIVULET_RULE_ENGINE_RETRIES,
      servicesFor,
      // Chain saves, root changes and debug switches published by the API reach the engine here.
      broadcast,
      debugSink,
      chains: {
        async getRootChain(tenantId) {
          const rec = await storage.ruleChains.getRoot(tenantId);
          if (!rec) return null;
          return { id: rec.id, json: toRuleChainExport(rec) };
        },
      },
    });
    await ruleEngine.start();
  }

  let ready = false;
  const auth = createCachedAuthenticator({ storage, broadcast });
  let transport: HttpTransport | undefined;
  let mqtt: MqttTransport | undefined;
  let mqttPort: number | undefined;
  let mqttTlsPort: number | undefined;
  let mqttWs: ReturnType<typeof createMqttWebSocket> | undefined;
  let coap: CoapTransport | undefined;
  let coapPort: number | undefined;
  let deviceState: DeviceStateService | undefined;
  let gatewayDevices: ReturnType<typeof createGatewayDeviceService> | undefined;
  if (roles.has('transport')) {
    const deviceApi = createDeviceApiService(storage);
    // device state (active, lastConnectTime, ... and their rule-engine events) for every transport
    deviceState = createDeviceStateService({ storage, queue, broadcast, logger, inactivityTimeoutMs: config.RIVULET_DEVICE_INACTIVITY_TIMEOUT_MS });
    deviceState.start();
    transport = createHttpTransport({
      queue,
      auth,
      deviceApi,
      // RPC and shared-attribute long polls (GET /api/v1/{token}/rpc, /attributes/updates)
      broadcast,
      state: deviceState,
      logger,
      rateLimiter,
      maxPayloadBytes: config.RIVULET_MAX_PAYLOAD_BYTES,
      tenantLimits,
      maxLongPollsPerDevice: config.RIVULET_HTTP_LONG_POLLS_PER_DEVICE,
      // the connection cap (below) may end the oldest long poll to admit a new client
      onLongPoll: (res, endNow) => {
        httpConnections.parkLongPoll(res, endNow);
        httpsListener?.connections.parkLongPoll(res, endNow);
      },
    });
    gatewayDevices = createGatewayDeviceService({ storage, broadcast, tenantLimits, logger });
    mqtt = createMqttTransport({
      queue,
      auth,
      deviceApi,
      broadcast,
      state: deviceState,
      gateway: gatewayDevices,
      logger,
      tenantLimits,
      rateLimiter,
      config: {
        port: config.RIVULET_MQTT_PORT,
        host: config.RIVULET_MQTT_HOST,
        maxPayloadBytes: config.RIVULET_MQTT_MAX_PAYLOAD,
        maxConnections: config.RIVULET_MQTT_MAX_CONNECTIONS,
        rateLimitMaxWaitMs: config.RIVULET_RATE_LIMIT_MAX_WAIT_MS,
        ...(tls ? { tls: { port: config.RIVULET_MQTT_TLS_PORT, host: config.RIVULET_MQTT_TLS_HOST ?? config.RIVULET_MQTT_HOST, options: mqttTlsOptions(tls) } } : {}),
      },
    });
    ({ port: mqttPort, tlsPort: mqttTlsPort } = await mqtt.start());
    mqttWs = createMqttWebSocket(mqtt, { maxPayloadBytes: config.RIVULET_MQTT_MAX_PAYLOAD });
    coap = createCoapTransport({
      queue,
      auth,
      deviceApi,
      broadcast,
      state: deviceState,
      logger,
      tenantLimits,
      rateLimiter,
      config: {
        port: config.RIVULET_COAP_PORT,
        host: config.RIVULET_COAP_HOST,
        maxPayloadBytes: config.RIVULET_MAX_PAYLOAD_BYTES,
        rateLimitMaxWaitMs: config.RIVULET_RATE_LIMIT_MAX_WAIT_MS,
      },
    });
    coapPort = (await coap.start()).port;
  }
  let api: Api | undefined;
  // httpConnections is set up with the server below; read only once the server answers
  const serverStats = createServerStats({ queue, ruleEngine: () => ruleEngine, rateLimits: () => rateLimiter.stats(), httpConnections: () => httpConnections.stats() });
  if (roles.has('api')) {
    api = createApi({
      storage,
      broadcast,
      logger,
      jwtSecret: resolveJwtSecret(config.RIVULET_JWT_SECRET, dataDir).secret,
      isReady: () => ready,
      tokenTtlSeconds: config.RIVULET_JWT_TOKEN_EXPIRATION_SECONDS,
      refreshTokenTtlSeconds: config.RIVULET_JWT_REFRESH_TOKEN_EXPIRATION_SECONDS,
      rpcPickupTimeoutMs: config.RIVULET_RPC_PICKUP_TIMEOUT_MS,
      loginThrottle: {
        maxFailures: config.RIVULET_LOGIN_MAX_FAILURES,
        lockoutSeconds: config.RIVULET_LOGIN_LOCKOUT_SECONDS,
        addressMaxFailures: config.RIVULET_LOGIN_ADDRESS_MAX_FAILURES,
        maxConcurrentHashes: config.RIVULET_LOGIN_MAX_CONCURRENT_HASHES,
        trustedProxies: trustedProxyList(config.RIVULET_TRUSTED_PROXIES),
      },
      passwordPolicy: { minLength: config.RIVULET_PASSWORD_MIN_LENGTH },
      passwordResetTtlSeconds: config.RIVULET_PASSWORD_RESET_TTL_SECONDS,
      sessionRevocationCacheSeconds: config.RIVULET_SESSION_REVOCATION_CACHE_SECONDS,
      initTenant: ensureRootChain,
      tenantLimits,
      corsOrigins: config.RIVULET_CORS_ORIGINS,
      rateLimit: config.RIVULET_API_RATE_LIMIT,
      rateLimitWindowMs: config.RIVULET_API_RATE_LIMIT_WINDOW_MS,
      // The ports this process listens on (0 in the config picks a free one), else the configured ones (api-only role).
      serverStats: (o) => serverStats.read(o),
      deviceConnectivity: { mqttPort: mqttPort ?? config.RIVULET_MQTT_PORT, coapPort: coapPort ?? config.RIVULET_COAP_PORT, publicHost: config.RIVULET_PUBLIC_HOST },
      ruleChains: createRuleChainService({
        registry,
        servicesFor,
        // maxRuleChains for creating a chain; nodes per chain and generator period come with servicesFor.
        limits: tenantLimits,
        // Counters of the chains this process's engine runs (the tenant's root chain).
        stats: (tenantId, chainId) => ruleEngine?.stats().chains.find((c) => c.tenantId === tenantId && c.chainId === chainId)?.nodes ?? null,
        // Chains a test run calls through rule chain nodes (run on the same side-effect-free services).
        async loadChain(tenantId, chainId) {
          const rec = await storage.ruleChains.get(tenantId, chainId);
          return rec ? toRuleChainExport(rec) : null;
        },
      }),
    });
  }

  // The web app's build at / (api role): never shadows /api, which stays the API's.
  const webApp = api ? createStaticFiles({ root: config.RIVULET_WEB_DIR ?? fileURLToPath(new URL('../../web/dist', import.meta.url)) }) : undefined;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      if (transport?.handle(req, res)) return;
      if (api?.handle(req, res)) return;
      if (webApp?.(req, res)) return;
      if (req.url === '/api/health' || req.url?.startsWith('/api/health?')) {
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ready ? 'UP' : 'STARTING' }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 404, message: `No route for ${req.method} ${req.url}`, errorCode: 32, timestamp: Date.now() }));
    } catch (e) {
      logger.error({ err: e }, 'unhandled error in request handler');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 500, message: 'Internal server error', errorCode: 2, timestamp: Date.now() }));
    }
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (mqttWs?.handleUpgrade(req, socket, head)) return;
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
  ready = true;
  logger.info({ port, roles: [...roles], queue: queue.kind }, 'rivulet started');

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    httpsUrl: httpsPort === undefined ? undefined : `https://${httpsHost === '0.0.0.0' || httpsHost === '::' ? '127.0.0.1' : httpsHost}:${httpsPort}`,
    httpsPort,
    mqttPort,
    mqttTlsPort,
    reloadTls: () =>
      tls !== undefined &&
      reloadTls({
        config,
        logger,
        apply: [(t) => https?.setSecureContext({ cert: t.cert, key: t.key }), (t) => mqtt?.setSecureContext(mqttTlsOptions(t))],
      }),
    coapPort,
    storage,
    queue,
    tenantId: boot.tenantId,
    generatedAdminPassword: boot.generatedPassword,
    generatedSysAdminPassword: sysAdmin.generatedPassword,
    ruleEngine,
    tenantLimits: profileLimits,
    rateLimitStats: () => rateLimiter.stats(),
    httpConnectionStats: () => httpConnections.stats(),
    stop() {
      stopping ??= (async () => {
        ready = false;
        // 1. Transports stop accepting: MQTT first (its connections close, their DISCONNECT_EVENTs
        // are queued while the rule engine still runs), then HTTP (new device requests get 503).
        await mqtt?.stop();
        mqttWs?.close();
        // CoAP: observers get 5.03, requests in progress reach the queue and are answered, the socket closes
        await coap?.stop();
        transport?.stop();
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
        await ruleEngine?.stop({ drain: true });
        if (debugRetention) clearInterval(debugRetention);
        await debugSink?.close();
        await nodeCapabilities.close();
        outbound.close();
        server.closeAllConnections();
        https?.closeAllConnections();
        // Upgraded (WebSocket) connections are not HTTP connections: closeAllConnections leaves them
        // and the servers' close would wait for them forever. The API closes its sockets first.
        await api?.close();
        await closed;
        clearTimeout(deadline);
        auth.close();
        gatewayDevices?.close();
        profileLimits.close();
        ruleRpc.close();
        await queue.close();
        serverStats.close();
        // device state writes what is pending (a state event still waiting for the queue was refused by close)
        await deviceState?.stop();
        // 3. Storage last (flushes batched writes first).
        await storage.close();
        logger.info({}, 'rivulet stopped');
      })();
      return stopping;
    },
  };
}

/** One batch of debug events, written per tenant so that each keeps its own per-node cap. */
async function saveDebugEvents(storage: Storage, events: DebugEvent[], limits: TenantLimitsSource): Promise<void> {
  const byTenant = new Map<string, DebugEvent[]>();
  for (const e of events) {
    const list = byTenant.get(e.tenantId);
    if (list) list.push(e);
    else byTenant.set(e.tenantId, [e]);
  }
  for (const [tenantId, list] of byTenant) {
    const cap = limits.forTenant(tenantId).maxDebugEventsPerNode;
    await storage.debugEvents.saveBatch(list, cap > 0 ? { maxPerNode: cap } : {});
  }
}
