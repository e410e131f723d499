import { ErrorResponseSchema, HealthSchema, LoginRequestSchema, RefreshTokenRequestSchema, TokenPairSchema, UserSchema } from '@rivulet/api-types';
import { authFailed, notFound } from '../api-error';
import { authed, type ApiDeps } from '../context';
import { toUserDto } from '../dto';
import { parseBody } from '../params';
import { hashPassword, verifyPassword } from '../password';
import { ok, type RouteDef } from '../router';

export function authRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, tokens } = deps;
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
      responses: { 401: { description: 'Wrong username or password (errorCode 10)', schema: ErrorResponseSchema } },
      handler: async (ctx) => {
        const { username, password } = parseBody(LoginRequestSchema, await ctx.body());
        const found = await storage.users.findByEmail(username.trim());
        if (!found) {
          dummyHash ??= hashPassword('rivulet-dummy-password');
          await verifyPassword(password, await dummyHash);
          throw authFailed('Invalid username or password');
        }
        if (!(await verifyPassword(password, found.passwordHash))) throw authFailed('Invalid username or password');
        return ok(await tokens.issue(found.user));
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
        const userId = await tokens.verifyRefresh(refreshToken);
        // Re-read the user so a new access token carries the current authority and tenant.
        const user = await storage.users.get(userId);
        if (!user) throw authFailed('Invalid refresh token: the user no longer exists');
        return ok(await tokens.issue(user));
      },
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
  ];
}
