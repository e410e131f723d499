import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Broadcast } from '@rivulet/broadcast';
import type { Logger, TenantLimitsSource } from '@rivulet/core';
import { createApi, createStaticFiles, toRuleChainExport, type Api, type ApiOptions, type RuleChainsPort } from '@rivulet/api';
import { checkDeviceProfileAlarms } from '@rivulet/rule-nodes';
import { createRuleChainService, type RuleEngine } from '@rivulet/rule-engine';
import type { Storage } from '@rivulet/storage';
import type { Queue } from '@rivulet/queue';
import { trustedProxyList, type Config } from '../config';
import type { RuleServices } from '../rule-services';
import { resolveJwtSecret } from '../secrets';

export interface ApiRole {
  readonly api: Api;
  /** The web app's build at / (never shadows /api, which stays the API's). */
  readonly webApp: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** The API role: REST and WebSocket for the dashboard and integrations, and the web app's files. */
export function startApiRole(o: {
  config: Config;
  dataDir: string;
  storage: Storage;
  broadcast: Broadcast;
  /** Platform events (entity, attribute, alarm changes made through the API) go to the rule engine through it. */
  queue: Queue;
  rules: RuleServices;
  tenantLimits: TenantLimitsSource;
  logger: Logger;
  isReady: () => boolean;
  readiness: ApiOptions['readiness'];
  initTenant: (tenantId: string) => Promise<void>;
  serverStats: ApiOptions['serverStats'];
  /** The ports this process listens on (0 in the config picks a free one), else the configured ones (api-only role). */
  deviceConnectivity: ApiOptions['deviceConnectivity'];
  /** The rule engine running in this process, if any (chain counters). */
  ruleEngine: () => RuleEngine | undefined;
  /** The rule engine's dead letters (GET /api/admin/deadLetters, POST .../replay). */
  deadLetters?: ApiOptions['deadLetters'];
}): ApiRole {
  const { config, storage } = o;
  const api = createApi({
    storage,
    broadcast: o.broadcast,
    queue: o.queue,
    logger: o.logger,
    jwtSecret: resolveJwtSecret(config.RIVULET_JWT_SECRET, o.dataDir).secret,
    isReady: o.isReady,
    ...(o.readiness ? { readiness: o.readiness } : {}),
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
    initTenant: o.initTenant,
    tenantLimits: o.tenantLimits,
    corsOrigins: config.RIVULET_CORS_ORIGINS,
    rateLimit: config.RIVULET_API_RATE_LIMIT,
    rateLimitWindowMs: config.RIVULET_API_RATE_LIMIT_WINDOW_MS,
    serverStats: o.serverStats,
    deviceConnectivity: o.deviceConnectivity,
    claiming: { allowClaimingByDefault: config.RIVULET_CLAIM_ALLOW_BY_DEFAULT },
    ...(o.deadLetters ? { deadLetters: o.deadLetters } : {}),
    ruleChains: withProfileCheck(createRuleChainService({
      registry: o.rules.registry,
      servicesFor: o.rules.servicesFor,
      // maxRuleChains for creating a chain; nodes per chain and generator period come with servicesFor.
      limits: o.tenantLimits,
      // Counters of the chains this process's engine runs (the tenant's root chain).
      stats: (tenantId, chainId) => o.ruleEngine()?.stats().chains.find((c) => c.tenantId === tenantId && c.chainId === chainId)?.nodes ?? null,
      // Chains a test run calls through rule chain nodes (run on the same side-effect-free services).
      async loadChain(tenantId, chainId) {
        const rec = await storage.ruleChains.get(tenantId, chainId);
        return rec ? toRuleChainExport(rec) : null;
      },
    })),
  });
  const webApp = createStaticFiles({ root: config.RIVULET_WEB_DIR ?? defaultWebDir() });
  return { api, webApp };
}

/** Device profiles are checked on save by the device profile node's rules compiler (alarm rules it cannot evaluate: 400). */
function withProfileCheck(port: RuleChainsPort): RuleChainsPort {
  return Object.assign(port, { checkDeviceProfile: checkDeviceProfileAlarms });
}

/** The built server (dist/server/main.js, npm run build) carries the web app beside it; the sources serve apps/web/dist. */
function defaultWebDir(): string {
  const beside = fileURLToPath(new URL('./web', import.meta.url));
  return existsSync(`${beside}/index.html`) ? beside : fileURLToPath(new URL('../../../web/dist', import.meta.url));
}
