import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createRpcCaller, silentLogger, type Logger } from '@rivulet/core';
import type { Broadcast } from '@rivulet/queue';
import type { Storage } from '@rivulet/storage';
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
import type { RuleChainsPort } from './rule-chains-port';
import { createTokenService } from './tokens';
import { createWsServer } from './ws/ws-server';

export interface ApiOptions {
  /** Writes through it already publish LiveChannel events (the server wraps it); the API never publishes telemetry or attribute events. */
  storage: Storage;
  /** Source of WebSocket pushes (TELEMETRY, ATTRIBUTES); the API publishes DEVICES events on device deletion, update and credentials change. */
  broadcast: Broadcast<unknown>;
  logger?: Logger;
  /** HS256 key of access and refresh tokens. */
  jwtSecret: string;
  /** Default 9000 s (ThingsBoard's 2.5 h). */
  tokenTtlSeconds?: number;
  /** Default 604800 s (one week). */
  refreshTokenTtlSeconds?: number;
  /** `/api/health` answers 503 until this returns true. */
  isReady?: () => boolean;
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
  /** Browser origins allowed to call the REST API (CORS); default none (closed). `*`: any origin. */
  corsOrigins?: readonly string[];
  /** REST requests per window per client address before 429; default 0 (no limit). */
  rateLimit?: number;
  /** Default 60000 ms. */
  rateLimitWindowMs?: number;
}

export interface Api {
  /** Takes requests under /api/ except the device API (/api/v1/); false for anything else. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes WebSocket upgrades to /api/ws (and /api/ws/plugins/telemetry); false for anything else. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Every REST route, as registered (the OpenAPI test checks each is documented). */
  readonly routes: readonly RouteDef[];
  /** Closes WebSocket sessions and broadcast subscriptions. */
  close(): Promise<void>;
}

export const DEFAULT_TOKEN_TTL_SECONDS = 9000;
export const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 604_800;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Whether a path belongs to this API (and not to the device API that shares the /api prefix). */
export function isApiPath(path: string): boolean {
  return path.startsWith('/api/') && !path.startsWith('/api/v1/') && path !== '/api/v1';
}

export function createApi(options: ApiOptions): Api {
  const logger = (options.logger ?? silentLogger).child({ component: 'api' });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const tokens = createTokenService({
    secret: options.jwtSecret,
    tokenTtlSeconds: options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds ?? DEFAULT_REFRESH_TOKEN_TTL_SECONDS,
  });
  const deps: ApiDeps = {
    storage: options.storage,
    broadcast: options.broadcast,
    logger,
    tokens,
    isReady: options.isReady ?? (() => true),
    ruleChains: options.ruleChains,
  };
  const rpcCaller = createRpcCaller({
    broadcast: options.broadcast,
    ...(options.rpcPickupTimeoutMs !== undefined ? { pickupTimeoutMs: options.rpcPickupTimeoutMs } : {}),
  });
  const routes: RouteDef[] = [...authRoutes(deps), ...deviceRoutes(deps), ...telemetryRoutes(deps), ...ruleChainRoutes(deps), ...dashboardRoutes(deps), ...alarmRoutes(deps), ...rpcRoutes(deps, rpcCaller)];
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
    close() {
      rest.close();
      rpcCaller.close();
      return ws.close();
    },
  };
}
