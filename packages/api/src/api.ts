import type { Readiness } from '@rivulet/api-types';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type Broadcast, createRpcCaller } from '@rivulet/broadcast';
import { silentLogger, type Logger, type TenantLimitsSource } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import type { Queue } from '@rivulet/queue';
import { createPlatformEvents, NO_PLATFORM_EVENTS } from './platform-events';
import type { ApiDeps } from './context';
import { createExpressApi } from './express-app';
import { splitUrl } from './http';
import { buildOpenApiDocument } from './openapi';
import type { RouteDef } from './router';
import { authRoutes } from './routes/auth.routes';
import { deviceRoutes } from './routes/device.routes';
import { telemetryRoutes } from './routes/telemetry.routes';
import { rpcRoutes } from './routes/rpc.routes';
import { alarmRoutes } from './routes/alarm.routes';
import { ruleChainRoutes } from './routes/rule-chain.routes';
import { dashboardRoutes } from './routes/dashboard.routes';
import { tenantRoutes } from './routes/tenant.routes';
import { tenantProfileRoutes } from './routes/tenant-profile.routes';
import { deviceProfileRoutes } from './routes/device-profile.routes';
import { deviceInfoRoutes } from './routes/device-info.routes';
import { userRoutes } from './routes/user.routes';
import { customerRoutes } from './routes/customer.routes';
import { claimRoutes, type ClaimRouteOptions } from './routes/claim.routes';
import { deviceConnectivityRoutes, type DeviceConnectivityOptions } from './routes/device-connectivity.routes';
import { withCurrentUsers } from './access';
import type { RuleChainsPort } from './rule-chains-port';
import { createTokenService, type TokenService } from './tokens';
import { createClientAddressResolver } from './client-address';
import { createLoginThrottle, type LoginThrottleOptions } from './login-throttle';
import { DEFAULT_PASSWORD_POLICY, type PasswordPolicy } from './password-policy';
import { passwordRoutes } from './routes/password.routes';
import { adminRoutes, type DeadLetterAdmin } from './routes/admin.routes';
import type { ServerStats } from '@rivulet/api-types';
import { createSessionService } from './sessions';
import { createWsServer } from './ws/ws-server';

export interface ApiOptions {
  /** Writes through it already publish LiveChannel events (the server wraps it); the API never publishes telemetry or attribute events. */
  storage: Storage;
  /** Source of WebSocket pushes (TELEMETRY, ATTRIBUTES); the API publishes DEVICES events on device deletion, update and credentials change. */
  broadcast: Broadcast;
  /**
   * The rule engine's queue: entity, attribute, time-series and alarm changes made through the API go
   * to it as platform events (ENTITY_CREATED, ATTRIBUTES_UPDATED, ALARM_ACK...). Without it none is produced.
   */
  queue?: Queue;
  logger?: Logger;
  /** HS256 key of access and refresh tokens. */
  jwtSecret: string;
  /** Default 9000 s (ThingsBoard's 2.5 h). */
  tokenTtlSeconds?: number;
  /** Default 604800 s (one week). */
  refreshTokenTtlSeconds?: number;
  /** `/api/health` answers 503 until this returns true. */
  isReady?: () => boolean;
  /** `/api/ready` answers 503 unless this reports READY (default: isReady, no other checks). */
  readiness?: () => Promise<Readiness>;
  /** The rule engine's validation, node catalog, test runs and counters (rule-engine's createRuleChainService). */
  ruleChains?: RuleChainsPort;
  /** Server-side RPC (/api/rpc): how long to wait for a transport to take a request before answering 504 "no session". Default 1000 ms. */
  rpcPickupTimeoutMs?: number;
  /** Default 1 MiB; larger request bodies get 413. */
  maxBodyBytes?: number;
  /** Default 100 live subscriptions per WebSocket session. */
  maxWsSubscriptionsPerSession?: number;
  /** Default 10 s for a WebSocket client to authenticate. */
  wsAuthTimeoutMs?: number;
  /** Login lockout per account and per address, hash concurrency, trusted proxies (login-throttle.ts). */
  loginThrottle?: LoginThrottleOptions;
  /** Applied to every password set through the API (change, reset). Default: at least 8 characters. */
  passwordPolicy?: PasswordPolicy;
  /** Lifetime of a password reset link. Default 3600 s. */
  passwordResetTtlSeconds?: number;
  /** How stale this process's view of a session's revocation may be (another process's logout). Default 5 s. */
  sessionRevocationCacheSeconds?: number;
  /** Sets up a tenant the system administrator creates (the server gives it the default root rule chain). */
  initTenant?: (tenantId: string) => Promise<void>;
  /** How long an activation link works; default 24 h (ThingsBoard's). */
  activationTtlMs?: number;
  /** Browser origins allowed to call the REST API (CORS); default none (closed). `*`: any origin. */
  corsOrigins?: readonly string[];
  /** REST requests per window per client address before 429; default 0 (no limit). */
  rateLimit?: number;
  /** Default 60000 ms. */
  rateLimitWindowMs?: number;
  /**
   * Each tenant's limits (its tenant profile over the global defaults): maxDevices on device
   * creation, key limits on the telemetry saves, WebSocket sessions and subscriptions. Without it
   * none of these is enforced.
   */
  tenantLimits?: TenantLimitsSource;
  /** Ports and host of the device commands of /api/device-connectivity/{deviceId}; default none (HTTP only). */
  deviceConnectivity?: DeviceConnectivityOptions;
  /** GET /api/admin/stats (system administrator): the process's figures; unset, the route does not exist. */
  serverStats?: (o: { reset: boolean }) => Promise<ServerStats>;
  /** GET /api/admin/deadLetters and POST /api/admin/deadLetters/replay (system administrator); unset, the routes do not exist. */
  deadLetters?: DeadLetterAdmin;
  /** Device claiming (POST/DELETE /api/customer/device/{deviceName}/claim); default: claiming allowed by default (ThingsBoard's). */
  claiming?: ClaimRouteOptions;
}

export interface Api {
  /** Takes requests under /api/ except the device API (/api/v1/); false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes WebSocket upgrades to /api/ws (and /api/ws/plugins/telemetry); false for anything else. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Every REST route, as registered (the OpenAPI test checks each is documented). */
  readonly routes: readonly RouteDef[];
  /** WebSocket sessions and live subscriptions open now (metrics). */
  stats(): { wsSessions: number; wsSubscriptions: number };
  /** Closes WebSocket sessions and broadcast subscriptions. */
  close(): Promise<void>;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 9000;
export const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 604_800;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_PASSWORD_RESET_TTL_SECONDS = 3600;
export const DEFAULT_SESSION_REVOCATION_CACHE_SECONDS = 5;

/** Whether a path belongs to this API (and not to the device API that shares the /api prefix). */
export function isApiPath(path: string): boolean {
  return path.startsWith('/api/') && !path.startsWith('/api/v1/') && path !== '/api/v1';
}

export function createApi(options: ApiOptions): Api {
  const logger = (options.logger ?? silentLogger).child({ component: 'api' });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const tokenTtlSeconds = options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  const refreshTokenTtlSeconds = options.refreshTokenTtlSeconds ?? DEFAULT_REFRESH_TOKEN_TTL_SECONDS;
  const revocationCacheMs = (options.sessionRevocationCacheSeconds ?? DEFAULT_SESSION_REVOCATION_CACHE_SECONDS) * 1000;
  // Tokens first: a bad secret throws before the session service starts its housekeeping timer.
  // Every verified access token is checked against the stored user (deleted, disabled, moved: refused).
  const tokens: TokenService = withCurrentUsers(
    createTokenService({ secret: options.jwtSecret, tokenTtlSeconds, refreshTokenTtlSeconds, isSessionActive: (id) => sessions.isActive(id) }),
    options.storage,
  );
  const sessions = createSessionService({ storage: options.storage, tokens, logger, tokenTtlSeconds, refreshTokenTtlSeconds, revocationCacheMs });
  const deps: ApiDeps = {
    storage: options.storage,
    broadcast: options.broadcast,
    logger,
    tokens,
    auth: {
      sessions,
      throttle: createLoginThrottle(options.loginThrottle),
      clientAddress: createClientAddressResolver(options.loginThrottle?.trustedProxies),
      passwordPolicy: options.passwordPolicy ?? DEFAULT_PASSWORD_POLICY,
      passwordResetTtlSeconds: options.passwordResetTtlSeconds ?? DEFAULT_PASSWORD_RESET_TTL_SECONDS,
    },
    isReady: options.isReady ?? (() => true),
    readiness: options.readiness ?? (async () => defaultReadiness(options.isReady?.() ?? true)),
    ruleChains: options.ruleChains,
    tenantLimits: options.tenantLimits,
    events: options.queue ? createPlatformEvents({ queue: options.queue, logger }) : NO_PLATFORM_EVENTS,
  };
  const rpcCaller = createRpcCaller({
    broadcast: options.broadcast,
    ...(options.rpcPickupTimeoutMs !== undefined ? { pickupTimeoutMs: options.rpcPickupTimeoutMs } : {}),
  });
  const routes: RouteDef[] = [...authRoutes(deps), ...deviceRoutes(deps), ...deviceInfoRoutes(deps), ...telemetryRoutes(deps), ...ruleChainRoutes(deps), ...dashboardRoutes(deps), ...alarmRoutes(deps), ...rpcRoutes(deps, rpcCaller), ...passwordRoutes(deps), ...tenantRoutes(deps, { initTenant: options.initTenant }), ...tenantProfileRoutes(deps), ...deviceProfileRoutes(deps), ...userRoutes(deps, { activationTtlMs: options.activationTtlMs }), ...customerRoutes(deps), ...claimRoutes(deps, options.claiming ?? { allowClaimingByDefault: true }), ...deviceConnectivityRoutes(deps, options.deviceConnectivity ?? {}), ...adminRoutes(deps, options.serverStats, options.deadLetters)];
  const rest = createExpressApi({
    routes,
    logger,
    maxBodyBytes,
    corsOrigins: options.corsOrigins ?? [],
    rateLimit: { limit: options.rateLimit ?? 0, windowMs: options.rateLimitWindowMs ?? 60_000 },
    openapi: () => buildOpenApiDocument(routes),
  });
  const ws = createWsServer({
    storage: options.storage,
    broadcast: options.broadcast,
    tokens,
    logger,
    tenantLimits: options.tenantLimits,
    isSessionActive: sessions.isActive,
    sessionCheckMs: Math.max(1000, revocationCacheMs),
    ...(options.maxWsSubscriptionsPerSession !== undefined ? { maxSubscriptionsPerSession: options.maxWsSubscriptionsPerSession } : {}),
    ...(options.wsAuthTimeoutMs !== undefined ? { authTimeoutMs: options.wsAuthTimeoutMs } : {}),
  });

  return {
    handle(req, res) {
      const { path } = splitUrl(req.url);
      if (!isApiPath(path)) return false;
      void rest.app(req, res);
      return true;
    },
    handleUpgrade(req, socket, head) {
      return ws.handleUpgrade(req, socket, head);
    },
    routes,
    stats: () => ({ wsSessions: ws.sessionCount(), wsSubscriptions: ws.subscriptionCount() }),
    close() {
      rest.close();
      rpcCaller.close();
      sessions.close();
      return ws.close();
    },
  };
}

/** Readiness of an API used without the server's checks (tests, embedding): started or not. */
function defaultReadiness(ready: boolean): Readiness {
  return { status: ready ? 'READY' : 'NOT_READY', roles: ['api'], checks: { database: 'UP', queue: 'UP', roles: ready ? 'STARTED' : 'STARTING' } };
}
