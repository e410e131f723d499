import type { TLSSocket } from 'node:tls';
import { DeviceConnectivitySchema, idParams } from '@rivulet/api-types';
import { notFound } from '../api-error';
import { connectivityCommands, hostOf } from '../connectivity-commands';
import { authed, TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import { parseId } from '../params';
import { ok, type RouteDef } from '../router';

export interface DeviceConnectivityOptions {
  /** The MQTT port devices connect to; unset: no MQTT commands. */
  mqttPort?: number | undefined;
  /** The CoAP port devices send to; unset: no CoAP command. */
  coapPort?: number | undefined;
  /** The host name devices use; unset: the host of the request (its Host header). */
  publicHost?: string | undefined;
}

/** ThingsBoard 3.6's DeviceConnectivityController: commands that publish as the device. */
export function deviceConnectivityRoutes(deps: ApiDeps, options: DeviceConnectivityOptions): RouteDef[] {
  const { storage, tokens } = deps;
  return [
    {
      method: 'GET',
      path: '/api/device-connectivity/{deviceId}',
      summary: "Commands that publish telemetry as the device (curl, mosquitto_pub, coap-client) with its access token and this server's address and ports",
      tag: 'Device Connectivity',
      params: idParams('deviceId'),
      response: DeviceConnectivitySchema,
      handler: authed(
        tokens,
        async (ctx, user) => {
          const id = parseId(ctx.params.deviceId, 'deviceId');
          const device = await storage.devices.get(user.tenantId, id);
          if (!device) throw notFound(`Device ${id} not found`);
          const credentials = await storage.devices.getCredentials(id);
          // MQTT basic credentials have no token to put in a command (ThingsBoard answers the same way).
          if (!credentials || credentials.credentialsType !== 'ACCESS_TOKEN') return ok({});
          const reached = hostOf(ctx.req.headers.host);
          const host = options.publicHost ?? reached?.host ?? 'localhost';
          const scheme = (ctx.req.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http';
          const portPart = reached?.port ? `:${reached.port}` : '';
          const httpBase = `${scheme}://${host.includes(':') ? `[${host}]` : host}${portPart}`;
          const gateway = device.additionalInfo?.gateway === true;
          return ok(connectivityCommands({ host, httpBase, mqttPort: options.mqttPort, coapPort: options.coapPort }, credentials.credentialsId, gateway));
        },
        TENANT_ADMIN_ONLY,
      ),
    },
  ];
}
