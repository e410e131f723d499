import type { Authority } from '@rivulet/api-types';
import type { Customer, Device, Storage } from '@rivulet/storage';
import { authFailed, notFound, permissionDenied } from './api-error';
import { bearerToken } from './context';
import type { Handler, Reply, RequestContext } from './router';
import type { AuthUser, TokenService } from './tokens';

/**
 * The token service as the API uses it: a valid signature is not enough, the user must still exist
 * with the same tenant and be enabled, and authority and customer are read from storage, not from
 * the token. So deleting a tenant, a customer or a user takes effect on the next request instead
 * of when the access token expires (ThingsBoard's token invalidation on user change).
 * One primary-key read per authenticated request.
 */
export function withCurrentUsers(tokens: TokenService, storage: Storage): TokenService {
  return {
    ...tokens,
    async verifyAccess(token) {
      const claimed = await tokens.verifyAccess(token);
      const user = await storage.users.get(claimed.userId);
      if (!user || user.tenantId !== claimed.tenantId) throw authFailed('Authentication failed: the user no longer exists');
      if (!user.enabled) throw authFailed('User account is not active');
      return { userId: user.id, tenantId: user.tenantId, customerId: user.customerId, email: user.email, authority: user.authority, sessionId: claimed.sessionId };
    },
  };
}

/**
 * What one caller may reach, built per request from the verified user. Routes ask it for the entity
 * they work on instead of checking authority, tenant and customer themselves: a tenant
 * administrator reaches its tenant's devices and customers, a customer user its own customer and
 * the devices assigned to it, the system administrator no tenant's data at all (as ThingsBoard).
 * What the caller may not reach answers 404, so ids of other tenants and customers do not leak.
 */
export interface AccessPolicy {
  readonly user: AuthUser;
  /** 403 unless the caller has one of these authorities. */
  require(authorities: readonly Authority[]): void;
  /** The tenant whose data the caller manages (tenant administrators only; 403 for anyone else). */
  managedTenant(): string;
  /** A device the caller may read. */
  readableDevice(id: string): Promise<Device>;
  /** A device the caller may change (tenant administrators only). */
  writableDevice(id: string): Promise<Device>;
  /** A customer the caller may read: any of the tenant's for its administrator, its own for a customer user. */
  readableCustomer(id: string): Promise<Customer>;
  /** A customer the caller may change (tenant administrators only). */
  writableCustomer(id: string): Promise<Customer>;
}

export const DEVICE_READERS: readonly Authority[] = ['TENANT_ADMIN', 'CUSTOMER_USER'];

export function createAccessPolicy(storage: Storage, user: AuthUser): AccessPolicy {
  const require = (authorities: readonly Authority[]): void => {
    if (!authorities.includes(user.authority)) throw permissionDenied();
  };
  const managedTenant = (): string => {
    require(['TENANT_ADMIN']);
    return user.tenantId;
  };

  async function customerOfTenant(id: string): Promise<Customer> {
    const customer = await storage.customers.get(user.tenantId, id);
    if (!customer) throw notFound(`Customer ${id} not found`);
    return customer;
  }

  return {
    user,
    require,
    managedTenant,
    async readableDevice(id) {
      require(DEVICE_READERS);
      const device = await storage.devices.get(user.tenantId, id);
      // A customer user's view of the tenant: only what is assigned to its customer exists.
      if (!device || (user.authority === 'CUSTOMER_USER' && (user.customerId === null || device.customerId !== user.customerId))) {
        throw notFound(`Device ${id} not found`);
      }
      return device;
    },
    async writableDevice(id) {
      const device = await storage.devices.get(managedTenant(), id);
      if (!device) throw notFound(`Device ${id} not found`);
      return device;
    },
    async readableCustomer(id) {
      require(DEVICE_READERS);
      if (user.authority === 'CUSTOMER_USER' && id !== user.customerId) throw notFound(`Customer ${id} not found`);
      return customerOfTenant(id);
    },
    async writableCustomer(id) {
      managedTenant();
      return customerOfTenant(id);
    },
  };
}

export type AccessHandler = (ctx: RequestContext, access: AccessPolicy) => Promise<Reply>;

/**
 * A handler behind the JWT check with the caller's access policy. `authorities` limits who may call
 * it at all (403 otherwise); the policy limits what each caller reaches.
 */
export function withAccess(deps: { tokens: TokenService; storage: Storage }, handler: AccessHandler, authorities?: readonly Authority[]): Handler {
  return async (ctx) => {
    const token = bearerToken(ctx.req);
    if (token === undefined) throw authFailed('Authentication failed: no Bearer token in the X-Authorization header');
    const user = await deps.tokens.verifyAccess(token);
    const access = createAccessPolicy(deps.storage, user);
    if (authorities) access.require(authorities);
    return handler(ctx, access);
  };
}
