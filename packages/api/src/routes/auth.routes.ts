import { LoginRequestSchema, RefreshTokenRequestSchema } from '@rivulet/api-types';
import { authFailed, notFound } from '../api-error';
import { authed, type ApiDeps } from '../context';
import { toUserDto } from '../dto';
import { accountLocked, type LoginAttempt } from '../login-throttle';
import { parseBody } from '../params';
import { hashPassword, verifyPassword } from '../password';
import { ok, type RouteDef } from '../router';

export function authRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, tokens, logger } = deps;
  const { sessions, throttle, clientAddress } = deps.auth;
  // Verified against when the user does not exist, so a wrong e-mail costs as long as a wrong
  // password and response times do not reveal which accounts exist.
  let dummyHash: Promise<string> | undefined;

  return [
    {
      method: 'POST',
      path: '/api/auth/login',
      handler: async (ctx) => {
        const { username, password } = parseBody(LoginRequestSchema, await ctx.body());
        const email = username.trim();
        const address = clientAddress(ctx.req);
        // Throttled address or locked account: refused here, before any hashing.
        let attempt: LoginAttempt;
        try {
          attempt = throttle.admit(address, email.toLowerCase());
        } catch (e) {
          logger.debug({ email, address, reason: 'throttled' }, 'login refused');
          throw e;
        }
        let found: Awaited<ReturnType<typeof storage.users.findByEmail>>;
        let valid: boolean;
        try {
          found = await storage.users.findByEmail(email);
          const hash = found?.passwordHash;
          valid = await attempt.hash(async () => verifyPassword(password, hash ?? (await (dummyHash ??= hashPassword('rivulet-dummy-password')))));
        } catch (e) {
          attempt.abandon();
          throw e;
        }
        if (!found || !valid) {
          const outcome = attempt.failed();
          logger.warn({ email, address, reason: found ? 'wrong_password' : 'unknown_user', ...(outcome === 'counted' ? {} : { lockout: outcome }) }, 'login failed');
          if (outcome === 'account_locked') throw accountLocked();
          throw authFailed('Invalid username or password');
        }
        attempt.succeeded();
        return ok(await sessions.start(found.user));
      },
    },
    {
      method: 'POST',
      path: '/api/auth/token',
      handler: async (ctx) => {
        const { refreshToken } = parseBody(RefreshTokenRequestSchema, await ctx.body());
        return ok(await sessions.refresh(refreshToken));
      },
    },
    {
      // ThingsBoard's logout: the session ends, so its refresh token and its access tokens stop working.
      method: 'POST',
      path: '/api/auth/logout',
      handler: authed(tokens, async (_ctx, auth) => {
        await sessions.end(auth.sessionId, 'logout');
        return ok();
      }),
    },
    {
      method: 'GET',
      path: '/api/auth/user',
      handler: authed(tokens, async (_ctx, auth) => {
        const user = await storage.users.get(auth.userId);
        if (!user) throw notFound(`User ${auth.userId} not found`);
        return ok(toUserDto(user));
      }),
    },
    {
      method: 'GET',
      path: '/api/health',
      handler: async () => (deps.isReady() ? ok({ status: 'UP' }) : { status: 503, body: { status: 'DOWN' } }),
    },
  ];
}
