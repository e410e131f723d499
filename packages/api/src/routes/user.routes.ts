import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  ActivateUserRequestSchema,
  ActivationLinkInfoSchema,
  TokenPairSchema,
  UserListQuerySchema,
  UserPageSchema,
  UserSaveRequestSchema,
  UserSchema,
  idParams,
} from '@rivulet/api-types';
import { z } from 'zod';
import { ConflictError } from '@rivulet/core';
import { NULL_ENTITY_ID, type User } from '@rivulet/storage';
import { badParam, notFound, permissionDenied } from '../api-error';
import { withAccess, type AccessPolicy } from '../access';
import type { ApiDeps } from '../context';
import { toUserDto } from '../dto';
import { pageParams, parseBody, parseId } from '../params';
import { hashPassword } from '../password';
import { checkPassword, type PasswordPolicy } from '../password-policy';
import { ok, type RouteDef } from '../router';

const SORT_PROPERTIES = ['email', 'firstName', 'lastName', 'createdTime'] as const;
/** ThingsBoard's default userActivationTokenTtl: 24 hours. */
export const DEFAULT_ACTIVATION_TTL_MS = 24 * 3600 * 1000;

export interface UserRouteOptions {
  activationTtlMs?: number | undefined;
}

function sha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function acceptNewPassword(policy: PasswordPolicy, password: string): string {
  checkPassword(policy, password);
  return password;
}

/** The base URL the caller used (ThingsBoard builds activation links from the request the same way). */
function baseUrl(req: IncomingMessage): string {
  const proto = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim() || ('encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http');
  return `${proto === 'https' ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`;
}

/**
 * ThingsBoard's UserController (and AuthController's activation). Who manages whom: the system
 * administrator manages tenant administrators (of any tenant) and system administrators; a tenant
 * administrator manages the users of its own tenant (its administrators and its customers' users);
 * a customer user reads only itself. Without a mail server, activation links are handed to the
 * administrator who asks for them.
 */
export function userRoutes(deps: ApiDeps, options: UserRouteOptions = {}): RouteDef[] {
  const { storage, tokens } = deps;
  const ttlMs = options.activationTtlMs ?? DEFAULT_ACTIVATION_TTL_MS;

  /** A user the caller may see (and, for administrators, manage); 404 for anyone else. */
  async function visibleUser(access: AccessPolicy, id: string): Promise<User> {
    const me = access.user;
    let user: User | null = null;
    if (me.authority === 'SYS_ADMIN') {
      const u = await storage.users.get(id);
      user = u && u.authority !== 'CUSTOMER_USER' ? u : null;
    } else if (me.authority === 'TENANT_ADMIN') {
      user = await storage.users.getInTenant(me.tenantId, id);
    } else if (id === me.userId) {
      user = await storage.users.get(id);
    }
    if (!user) throw notFound(`User ${id} not found`);
    return user;
  }

  async function activationLink(ctx: { req: IncomingMessage; params: Readonly<Record<string, string>> }, access: AccessPolicy): Promise<string> {
    const user = await visibleUser(access, parseId(ctx.params.userId, 'userId'));
    if (user.enabled) throw badParam('User is already activated!');
    // A fresh token each time: only its hash is stored, and the previous link stops working.
    const token = randomBytes(32).toString('base64url');
    await storage.users.setActivationToken(user.id, sha256(token), Date.now() + ttlMs);
    return `${baseUrl(ctx.req)}/api/noauth/activate?activateToken=${token}`;
  }

  return [
    {
      method: 'POST',
      path: '/api/user',
      summary: 'Create a user (active when the body has a password), or update it when the body has its id', tag: 'User', body: UserSaveRequestSchema, response: UserSchema, createsId: ['userId'],
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const input = parseBody(UserSaveRequestSchema, await ctx.body());
          const me = access.user;
          if (input.id) {
            // ThingsBoard's save with an id: an update. Rivulet changes the names; e-mail, authority,
            // tenant and customer stay as they are (a different value is refused rather than ignored).
            const existing = await visibleUser(access, input.id.id.toLowerCase());
            if (existing.email.toLowerCase() !== input.email.toLowerCase() || existing.authority !== input.authority) {
              throw badParam('Changing the e-mail or authority of a user is not supported');
            }
            if (input.password !== undefined) throw badParam('password: set at creation only; an existing user changes its own password');
            const updated = await storage.users.updateNames(existing.tenantId, existing.id, { firstName: input.firstName ?? null, lastName: input.lastName ?? null });
            if (!updated) throw notFound(`User ${existing.id} not found`);
            return ok(toUserDto(updated));
          }
          let tenantId: string;
          let customerId: string | null = null;
          if (me.authority === 'SYS_ADMIN') {
            // ThingsBoard's system administrator creates tenant administrators.
            if (input.authority !== 'TENANT_ADMIN') throw permissionDenied('A system administrator creates TENANT_ADMIN users only');
            if (!input.tenantId) throw badParam('tenantId: the tenant of the new administrator is required');
            tenantId = input.tenantId.id.toLowerCase();
            if (!(await storage.tenants.get(tenantId))) throw notFound(`Tenant ${tenantId} not found`);
          } else {
            // A tenant administrator works in its own tenant whatever the body says (as ThingsBoard).
            tenantId = access.managedTenant();
            if (input.authority === 'SYS_ADMIN') throw permissionDenied();
            if (input.authority === 'CUSTOMER_USER') {
              if (!input.customerId || input.customerId.id === NULL_ENTITY_ID) throw badParam('customerId: a CUSTOMER_USER needs the customer it belongs to');
              customerId = (await access.writableCustomer(input.customerId.id.toLowerCase())).id;
            }
          }
          // ThingsBoard's message, word for word.
          const duplicate = (): never => {
            throw badParam(`User with email '${input.email}'  already present in database!`);
          };
          if ((await storage.users.findByEmail(input.email)) !== null) duplicate();
          // Without a password the account waits for activation; its hash is of a secret nobody knows,
          // so a login attempt costs the same as for any other account.
          const password = input.password === undefined ? randomBytes(32).toString('base64url') : acceptNewPassword(deps.auth.passwordPolicy, input.password);
          const passwordHash = await hashPassword(password);
          let user: User;
          try {
            user = await storage.users.create({
              tenantId,
              customerId,
              email: input.email,
              authority: input.authority,
              passwordHash,
              firstName: input.firstName ?? null,
              lastName: input.lastName ?? null,
              enabled: input.password !== undefined,
            });
          } catch (e) {
            // Two creations of the same e-mail at once: the database's unique index decides.
            if (e instanceof ConflictError) duplicate();
            throw e;
          }
          return ok(toUserDto(user));
        },
        ['SYS_ADMIN', 'TENANT_ADMIN'],
      ),
    },
    {
      method: 'GET',
      path: '/api/user/{userId}',
      summary: 'Get a user', tag: 'User', params: idParams('userId'), response: UserSchema,
      handler: withAccess(deps, async (ctx, access) => ok(toUserDto(await visibleUser(access, parseId(ctx.params.userId, 'userId'))))),
    },
    {
      method: 'DELETE',
      path: '/api/user/{userId}',
      summary: 'Delete a user and end its sessions', tag: 'User', params: idParams('userId'), response: null,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const user = await visibleUser(access, parseId(ctx.params.userId, 'userId'));
          if (user.id === access.user.userId) throw permissionDenied('A user cannot delete itself');
          // The system administrators have no tenant: they are not deleted over the API.
          if (user.authority === 'SYS_ADMIN' || !(await storage.users.delete(user.tenantId, user.id))) throw notFound(`User ${user.id} not found`);
          await deps.auth.sessions.endAllOf(user.id, 'user_deleted');
          return ok();
        },
        ['SYS_ADMIN', 'TENANT_ADMIN'],
      ),
    },
    {
      method: 'GET',
      path: '/api/users',
      summary: 'A page of the users the caller manages', tag: 'User', query: UserListQuerySchema, response: UserPageSchema,
      // ThingsBoard's getUsers: a tenant administrator's whole tenant, a customer user's own customer.
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const me = access.user;
          const filter = me.authority === 'CUSTOMER_USER' ? { tenantId: me.tenantId, customerId: me.customerId ?? NULL_ENTITY_ID } : { tenantId: me.tenantId };
          const page = await storage.users.list(filter, pageParams(ctx.query, SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toUserDto) });
        },
        ['TENANT_ADMIN', 'CUSTOMER_USER'],
      ),
    },
    {
      method: 'GET',
      path: '/api/tenant/{tenantId}/users',
      summary: "A page of a tenant's administrators", tag: 'User', params: idParams('tenantId'), query: UserListQuerySchema, response: UserPageSchema,
      handler: withAccess(
        deps,
        async (ctx) => {
          const tenantId = parseId(ctx.params.tenantId, 'tenantId');
          const page = await storage.users.list({ tenantId, authority: 'TENANT_ADMIN' }, pageParams(ctx.query, SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toUserDto) });
        },
        ['SYS_ADMIN'],
      ),
    },
    {
      method: 'GET',
      path: '/api/customer/{customerId}/users',
      summary: "A page of a customer's users", tag: 'User', params: idParams('customerId'), query: UserListQuerySchema, response: UserPageSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const customer = await access.writableCustomer(parseId(ctx.params.customerId, 'customerId'));
          const page = await storage.users.list({ tenantId: customer.tenantId, customerId: customer.id }, pageParams(ctx.query, SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toUserDto) });
        },
        ['TENANT_ADMIN'],
      ),
    },
    {
      method: 'GET',
      path: '/api/user/{userId}/activationLink',
      summary: "A user's activation link", tag: 'User', params: idParams('userId'), response: z.string(),
      handler: withAccess(deps, async (ctx, access) => ok(await activationLink(ctx, access)), ['SYS_ADMIN', 'TENANT_ADMIN']),
    },
    {
      method: 'GET',
      path: '/api/user/{userId}/activationLinkInfo',
      summary: "A user's activation link and its time to live", tag: 'User', params: idParams('userId'), response: ActivationLinkInfoSchema,
      handler: withAccess(deps, async (ctx, access) => ok({ value: await activationLink(ctx, access), ttlMs }), ['SYS_ADMIN', 'TENANT_ADMIN']),
    },
    {
      method: 'POST',
      path: '/api/noauth/activate',
      summary: 'Activate a user with the token of its activation link: a JWT pair', tag: 'User', public: true, body: ActivateUserRequestSchema, response: TokenPairSchema,
      handler: async (ctx) => {
        const input = parseBody(ActivateUserRequestSchema, await ctx.body());
        const passwordHash = await hashPassword(acceptNewPassword(deps.auth.passwordPolicy, input.password));
        const user = await storage.users.activate(sha256(input.activateToken), passwordHash, Date.now());
        if (!user) throw badParam('Invalid or expired activation token');
        deps.logger.info({ userId: user.id, tenantId: user.tenantId }, 'user activated');
        // As ThingsBoard: the answer logs the user in.
        return ok(await deps.auth.sessions.start(user));
      },
    },
  ];
}
