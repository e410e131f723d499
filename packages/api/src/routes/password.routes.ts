import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ChangePasswordRequestSchema, ResetPasswordEmailRequestSchema, ResetPasswordRequestSchema, TokenPairSchema } from '@rivulet/api-types';
import { authFailed, badParam } from '../api-error';
import { authed, type ApiDeps } from '../context';
import { parseBody } from '../params';
import { hashPassword, verifyPassword } from '../password';
import { checkPassword } from '../password-policy';
import { ok, type RouteDef } from '../router';

/** Stored instead of the reset token itself, so a read of the table does not hand out working links. */
function sha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The base URL the client used, for the reset link (the operator reads it in the log). */
function origin(req: IncomingMessage): string {
  const tls = 'encrypted' in req.socket && req.socket.encrypted === true;
  return `${tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`;
}

/** ThingsBoard's change and reset password endpoints. */
export function passwordRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, tokens, logger } = deps;
  const { sessions, throttle, clientAddress, passwordPolicy } = deps.auth;

  return [
    {
      // Every session of the user ends (the caller's too): the answer is a new token pair.
      method: 'POST',
      path: '/api/auth/changePassword',
      summary: "Change the caller's password: a new JWT pair (its other sessions end)", tag: 'Auth', body: ChangePasswordRequestSchema, response: TokenPairSchema,
      handler: authed(tokens, async (ctx, auth) => {
        const { currentPassword, newPassword } = parseBody(ChangePasswordRequestSchema, await ctx.body());
        checkPassword(passwordPolicy, newPassword);
        const user = await storage.users.get(auth.userId);
        const found = user ? await storage.users.findByEmail(user.email) : null;
        if (!user || !found || found.user.id !== user.id) throw authFailed('The user of this token no longer exists');
        // A stolen access token must not become a way around the login lockout: same counters.
        const attempt = throttle.admit(clientAddress(ctx.req), user.email.toLowerCase());
        let matches: boolean;
        try {
          matches = await attempt.hash(() => verifyPassword(currentPassword, found.passwordHash));
        } catch (e) {
          attempt.abandon();
          throw e;
        }
        if (!matches) {
          attempt.failed();
          throw badParam("Current password doesn't match!");
        }
        attempt.succeeded();
        if (currentPassword === newPassword) throw badParam('New password should be different from existing!');
        await storage.users.setPassword(user.id, await throttle.hash(() => hashPassword(newPassword)));
        await sessions.endAllOf(user.id, 'password_change');
        logger.info({ userId: user.id, email: user.email }, 'password changed: every session of the user ended');
        return ok(await sessions.start(user));
      }),
    },
    {
      // Always 200, so the answer does not tell which e-mails have accounts. There is no mail server:
      // the link goes to the log for the operator to pass on (docs/operations.md).
      method: 'POST',
      path: '/api/noauth/resetPasswordByEmail',
      summary: 'Request a password reset link by email (answers 200 whether or not the account exists)', tag: 'Auth', public: true, body: ResetPasswordEmailRequestSchema, response: null,
      handler: async (ctx) => {
        const { email } = parseBody(ResetPasswordEmailRequestSchema, await ctx.body());
        const found = await storage.users.findByEmail(email.trim());
        if (!found) {
          logger.info({ email: email.trim() }, 'password reset requested for an unknown e-mail: nothing sent');
          return ok();
        }
        const resetToken = randomBytes(32).toString('base64url');
        const ttl = deps.auth.passwordResetTtlSeconds;
        await storage.passwordResets.create({ userId: found.user.id, tokenHash: sha256(resetToken), expiresTime: Date.now() + ttl * 1000 });
        logger.info(
          { email: found.user.email, userId: found.user.id, resetLink: `${origin(ctx.req)}/api/noauth/resetPassword?resetToken=${resetToken}`, expiresInSeconds: ttl },
          'password reset requested: give this link to the user',
        );
        return ok();
      },
    },
    {
      // One use, before it expires; every session of the user ends; the answer is a new token pair.
      method: 'POST',
      path: '/api/noauth/resetPassword',
      summary: 'Set a new password with a reset token: a JWT pair', tag: 'Auth', public: true, body: ResetPasswordRequestSchema, response: TokenPairSchema,
      handler: async (ctx) => {
        const { resetToken, password } = parseBody(ResetPasswordRequestSchema, await ctx.body());
        // Before the token is used up, so a refused password leaves the link working.
        checkPassword(passwordPolicy, password);
        const userId = await storage.passwordResets.consume(sha256(resetToken), Date.now());
        const user = userId === null ? null : await storage.users.get(userId);
        if (!user) throw badParam('Invalid reset token! It may have been used already or have expired');
        await storage.users.setPassword(user.id, await throttle.hash(() => hashPassword(password)));
        await sessions.endAllOf(user.id, 'password_reset');
        throttle.clearAccount(user.email.toLowerCase());
        logger.info({ userId: user.id, email: user.email }, 'password reset: every session of the user ended');
        return ok(await sessions.start(user));
      },
    },
  ];
}
