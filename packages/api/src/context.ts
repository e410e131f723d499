import type { IncomingMessage } from 'node:http';
import type { Broadcast } from '@rivulet/broadcast';
import type { Authority, Readiness } from '@rivulet/api-types';
import type { Logger, TenantLimitsSource } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { authFailed, permissionDenied } from './api-error';
import type { Handler, Reply, RequestContext } from './router';
import type { RuleChainsPort } from './rule-chains-port';
import type { AuthUser, TokenService } from './tokens';
import type { ClientAddressResolver } from './client-address';
import type { LoginThrottle } from './login-throttle';
import type { PasswordPolicy } from './password-policy';
import type { SessionService } from './sessions';
import type { PlatformEvents } from './platform-events';

/** What the login, session and password endpoints share (auth.routes.ts, password.routes.ts). */
export interface AuthDeps {
  readonly sessions: SessionService;
  readonly throttle: LoginThrottle;
  readonly clientAddress: ClientAddressResolver;
  readonly passwordPolicy: PasswordPolicy;
  readonly passwordResetTtlSeconds: number;
}

/** What route handlers share; built once per createApi. */
export interface ApiDeps {
  readonly storage: Storage;
  readonly broadcast: Broadcast;
  readonly logger: Logger;
  readonly tokens: TokenService;
  readonly auth: AuthDeps;
  readonly isReady: () => boolean;
  /** `/api/ready`: the process's checks (database, queue, roles). */
  readonly readiness: () => Promise<Readiness>;
  /** Rule-chain validation, node catalog, test runs and counters (the rule engine's); routes that need it answer 503 without. */
  readonly ruleChains?: RuleChainsPort | undefined;
  /** Each tenant's limits (devices, keys, WebSocket sessions...); without it none is enforced. */
  readonly tenantLimits?: TenantLimitsSource | undefined;
  /** Entity, attribute, time-series and alarm changes made through the API, produced to the rule engine. */
  readonly events: PlatformEvents;
}

/** ThingsBoard's header first, the standard one as well (curl users and proxies send that). */
export function bearerToken(req: IncomingMessage): string | undefined {
  for (const name of ['x-authorization', 'authorization']) {
    const h = req.headers[name];
    const v = Array.isArray(h) ? h[0] : h;
    if (v === undefined) continue;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(v);
    if (m) return m[1];
  }
  return undefined;
}

export type AuthedHandler = (ctx: RequestContext, user: AuthUser) => Promise<Reply>;

/**
 * A handler behind the JWT check. `authorities` limits who may call it (403 otherwise); device and
 * telemetry routes are tenant-administrator routes, as in ThingsBoard without customers.
 */
export function authed(tokens: TokenService, handler: AuthedHandler, authorities?: readonly Authority[]): Handler {
  return async (ctx) => {
    const token = bearerToken(ctx.req);
    if (token === undefined) throw authFailed('Authentication failed: no Bearer token in the X-Authorization header');
    const user = await tokens.verifyAccess(token);
    if (authorities && !authorities.includes(user.authority)) throw permissionDenied();
    return handler(ctx, user);
  };
}

export const TENANT_ADMIN_ONLY: readonly Authority[] = ['TENANT_ADMIN'];
