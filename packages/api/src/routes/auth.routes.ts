import { ErrorResponseSchema, HealthSchema, ReadinessSchema, LoginRequestSchema, RefreshTokenRequestSchema, TokenPairSchema, UserSchema } from '@rivulet/api-types';
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
      summary: 'Log in: a JWT and a refresh token',
      tag: 'Auth',
      public: true,
      body: LoginRequestSchema,
      response: TokenPairSchema,
      responses: {
        401: { description: 'Wrong username or password, or the account is locked (errorCode 10)', schema: ErrorResponseSchema },
        429: { description: 'Too many failed logins for this account or address (errorCode 33)', schema: ErrorResponseSchema },
      },
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
      summary: 'A new JWT pair for a refresh token',
      tag: 'Auth',
      public: true,
      body: RefreshTokenRequestSchema,
      response: TokenPairSchema,
      responses: { 401: { description: 'Invalid or expired refresh token (errorCode 10 or 11)', schema: ErrorResponseSchema } },
      handler: async (ctx) => {
        const { refreshToken } = parseBody(RefreshTokenRequestSchema, await ctx.body());
        return ok(await sessions.refresh(refreshToken));
      },
    },
    {
      // ThingsBoard's logout: the session ends, so its refresh token and its access tokens stop working.
      method: 'POST',
      path: '/api/auth/logout',
      summary: "Log out: the caller's session, its refresh token and access tokens stop working", tag: 'Auth', body: null, response: null,
      handler: authed(tokens, async (_ctx, auth) => {
        await sessions.end(auth.sessionId, 'logout');
        return ok();
      }),
    },
    {
      method: 'GET',
      path: '/api/auth/user',
      summary: 'The logged-in user',
      tag: 'Auth',
      response: UserSchema,
      handler: authed(tokens, async (_ctx, auth) => {
        const user = await storage.users.get(auth.userId);
        if (!user) throw notFound(`User ${auth.userId} not found`);
        return ok(toUserDto(user));
      }),
    },
    {
      method: 'GET',
      path: '/api/health',
      summary: 'Whether the server is up (503 while starting or stopping)',
      tag: 'Health',
      public: true,
      response: HealthSchema,
      responses: { 503: { description: 'Starting or stopping', schema: HealthSchema } },
      handler: async () => (deps.isReady() ? ok({ status: 'UP' }) : { status: 503, body: { status: 'DOWN' } }),
    },
    {
      method: 'GET',
      path: '/api/ready',
      summary: 'Whether this process can take work: its database answers, its queue is connected, its roles started (503 otherwise)',
      tag: 'Health',
      public: true,
      response: ReadinessSchema,
      responses: { 503: { description: 'Not ready: the checks say which part is down', schema: ReadinessSchema } },
      handler: async () => {
        const r = await deps.readiness();
        return r.status === 'READY' ? ok(r) : { status: 503, body: r };
      },
    },
  ];
}
