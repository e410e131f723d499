import { z } from 'zod';

/**
 * `GET /api/device-connectivity/{deviceId}` (ThingsBoard 3.6's DeviceConnectivityController):
 * ready-to-paste commands that publish one telemetry message as the device, per protocol and
 * variant (`{"http":{"http":"curl ..."},"mqtt":{"mqtt":"mosquitto_pub ..."},"coap":{"coap":"..."}}`).
 * Rivulet adds `gateway` for a gateway device (additionalInfo.gateway): its MQTT topics and a
 * command per topic.
 */
export const DeviceConnectivitySchema = z.object({
  http: z.record(z.string(), z.string()).optional(),
  mqtt: z.record(z.string(), z.string()).optional(),
  coap: z.record(z.string(), z.string()).optional(),
  gateway: z.record(z.string(), z.string()).optional(),
});
export type DeviceConnectivity = z.infer<typeof DeviceConnectivitySchema>;
