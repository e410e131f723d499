import { LiveChannel } from '@rivulet/broadcast';
import { ClaimRefusalSchema, ClaimRequestSchema, ClaimResultSchema } from '@rivulet/api-types';
import { z } from 'zod';
import type { DeviceEvent, JsonValue } from '@rivulet/core';
import type { Device } from '@rivulet/storage';
import { notFound, permissionDenied } from '../api-error';
import { withAccess } from '../access';
import type { ApiDeps } from '../context';
import { claimDevice, reclaimDevice } from '../device-claims';
import { toDeviceDto } from '../dto';
import { parseBody } from '../params';
import { ok, type RouteDef } from '../router';
import type { EventEntity } from '../platform-events';

const DeviceNameParamsSchema = z.object({ deviceName: z.string().min(1).max(255) });

export interface ClaimRouteOptions {
  /** ThingsBoard's security.claim.allowClaimingByDefault: false makes a re-claimed device need claimingAllowed again (set by re-claiming). */
  readonly allowClaimingByDefault: boolean;
}

/**
 * ThingsBoard's claiming calls of DeviceController: a customer user claims a device of its tenant
 * by name with the secret key the device announced (device-side claiming, see device-claims.ts);
 * re-claiming takes it back from its customer so it can be claimed again.
 */
export function claimRoutes(deps: ApiDeps, options: ClaimRouteOptions): RouteDef[] {
  const { storage, broadcast } = deps;
  const deviceEntity = (d: Device): EventEntity => ({ id: { entityType: 'DEVICE', id: d.id }, tenantId: d.tenantId, name: d.name, dto: toDeviceDto(d) as unknown as JsonValue });

  async function deviceByName(tenantId: string, name: string): Promise<Device> {
    // no device has such a name (longer than a name may be, or with NUL, which the database refuses)
    if (name.length === 0 || name.length > 255 || name.includes('\u0000')) throw notFound();
    const device = await storage.devices.findByName(tenantId, name);
    // ThingsBoard's checkNotNull: the generic not-found message
    if (!device) throw notFound();
    return device;
  }

  function changed(device: Device): void {
    // caches keyed on the device (and live sessions of customer users) see the new customer
    broadcast.publish(LiveChannel.DEVICES, { tenantId: device.tenantId, deviceId: device.id, kind: 'updated' } satisfies DeviceEvent);
  }

  return [
    {
      method: 'POST',
      path: '/api/customer/device/{deviceName}/claim',
      summary: "Claim a device for the user's customer with the secret key the device announced",
      tag: 'Device',
      params: DeviceNameParamsSchema,
      body: ClaimRequestSchema,
      response: ClaimResultSchema,
      responses: { 400: { description: 'Not claimed: "FAILURE" (no pending claim, wrong secret key, expired) or "CLAIMED" (the device belongs to a customer)', schema: ClaimRefusalSchema } },
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const user = access.user;
          const name = ctx.params.deviceName ?? '';
          // ThingsBoard's body is optional: none means the empty secret key
          const raw = hasBody(ctx.req.headers) ? await ctx.body() : {};
          const secretKey = parseBody(ClaimRequestSchema, raw).secretKey ?? '';
          const device = await deviceByName(user.tenantId, name);
          const customerId = user.customerId;
          if (customerId === null) throw permissionDenied();
          const outcome = await claimDevice(storage, device, customerId, secretKey);
          if (outcome.response !== 'SUCCESS') return { status: 400, body: outcome.response };
          changed(outcome.device);
          // ThingsBoard logs ASSIGNED_TO_CUSTOMER for a claim: the same ENTITY_ASSIGNED as an assignment by the tenant administrator
          await deps.events.forUser(user).assignment('ASSIGNED', deviceEntity(outcome.device), outcome.customer);
          return ok({ device: toDeviceDto(outcome.device), response: 'SUCCESS' });
        },
        ['CUSTOMER_USER'],
      ),
    },
    {
      method: 'DELETE',
      path: '/api/customer/device/{deviceName}/claim',
      summary: 'Re-claim a device: it leaves its customer and may be claimed again',
      tag: 'Device',
      params: DeviceNameParamsSchema,
      response: null,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const user = access.user;
          const name = ctx.params.deviceName ?? '';
          const device = await deviceByName(user.tenantId, name);
          // ThingsBoard lets any customer user of the tenant re-claim any device; here only a
          // device of the user's own customer (a customer user never reaches another customer's)
          if (user.authority === 'CUSTOMER_USER' && device.customerId !== null && device.customerId !== user.customerId) throw permissionDenied();
          const result = await reclaimDevice(storage, device, { allowClaimingByDefault: options.allowClaimingByDefault });
          if (result.formerCustomer) {
            changed(result.device);
            await deps.events.forUser(user).assignment('UNASSIGNED', deviceEntity(result.device), result.formerCustomer);
          }
          return ok();
        },
        ['TENANT_ADMIN', 'CUSTOMER_USER'],
      ),
    },
  ];
}

/** Whether the request carries a body (a length above zero, or a chunked one). */
function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  if (typeof length === 'string') return Number(length) > 0;
  return headers['transfer-encoding'] !== undefined;
}
