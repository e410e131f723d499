import type { ServerResponse } from 'node:http';
import { createClientAddressResolver } from '@rivulet/api';
import type { Broadcast } from '@rivulet/broadcast';
import type { DeviceClaimingService, DeviceProvisioningService, DeviceRateLimiter, Logger, TenantLimitsSource } from '@rivulet/core';
import type { Queue } from '@rivulet/queue';
import type { Storage } from '@rivulet/storage';
import { createCoapTransport, type CoapTransport } from '@rivulet/transport-coap';
import { createHttpTransport, type HttpTransport } from '@rivulet/transport-http';
import { createMqttTransport, type MqttTransport } from '@rivulet/transport-mqtt';
import { createTransportService, type TransportService } from '@rivulet/transport-service';
import { trustedProxyList, type Config } from '../config';
import { createDeviceApiService, type createCachedAuthenticator } from '../device-services';
import { createDeviceStateService, type DeviceStateService } from '../device-state';
import { createGatewayDeviceService } from '../gateway-devices';
import { createMqttWebSocket } from '../mqtt-websocket';
import { mqttTlsOptions, type TlsMaterial } from '../tls';

export interface TransportRole {
  /** Device API over HTTP (mounted on the process's HTTP server). */
  readonly http: HttpTransport;
  readonly mqtt: MqttTransport;
  readonly coap: CoapTransport;
  /** What the three transports share (provisioning, claiming, ...): built once, handed to each. */
  readonly service: TransportService;
  /** MQTT over WebSocket (upgrades on the process's HTTP server). */
  readonly mqttWs: ReturnType<typeof createMqttWebSocket>;
  readonly mqttPort: number;
  readonly mqttTlsPort: number | undefined;
  readonly coapPort: number;
  /** Stop accepting: MQTT connections close (their DISCONNECT_EVENTs are queued), CoAP answers 5.03, HTTP 503. */
  stopAccepting(): Promise<void>;
  /** After the queue closed: device state writes what is pending. */
  close(): Promise<void>;
}

/** The transport role: MQTT (plain, TLS, WebSocket), CoAP and the HTTP device API, handing messages to the queue. */
export async function startTransportRole(o: {
  config: Config;
  storage: Storage;
  queue: Queue;
  broadcast: Broadcast;
  auth: ReturnType<typeof createCachedAuthenticator>;
  rateLimiter: DeviceRateLimiter;
  tenantLimits: TenantLimitsSource;
  tls: TlsMaterial | undefined;
  logger: Logger;
  /** RPC and attribute long polls handed to the HTTP server's connection cap (it may end the oldest to admit a client). */
  onLongPoll: (res: ServerResponse, endNow: () => void) => void;
  /** Device provisioning (MQTT "provision", HTTP/CoAP POST /api/v1/provision); absent: the transports refuse it. */
  provisioning?: DeviceProvisioningService;
  /** Device claiming (v1/devices/me/claim, v1/gateway/claim, POST /api/v1/{token}/claim); absent: refused. */
  claiming?: DeviceClaimingService;
}): Promise<TransportRole> {
  const { config, storage, queue, broadcast, auth, rateLimiter, tenantLimits, tls, logger } = o;
  // device state (active, lastConnectTime, ... and their rule-engine events) for every transport
  const deviceState: DeviceStateService = createDeviceStateService({ storage, queue, broadcast, logger, inactivityTimeoutMs: config.RIVULET_DEVICE_INACTIVITY_TIMEOUT_MS });
  deviceState.start();
  const gatewayDevices = createGatewayDeviceService({ storage, broadcast, tenantLimits, logger });
  // One service for HTTP, MQTT and CoAP (ThingsBoard's TransportService): transports -> it -> queue.
  // The storage-backed parts (device API, state, gateway devices, provisioning, claiming) are built
  // here and handed in: neither the service nor a transport touches storage.
  const service: TransportService = createTransportService({
    queue,
    auth,
    deviceApi: createDeviceApiService(storage),
    broadcast,
    state: deviceState,
    gateway: gatewayDevices,
    tenantLimits,
    rateLimiter,
    ...(o.provisioning ? { provisioning: o.provisioning } : {}),
    ...(o.claiming ? { claiming: o.claiming } : {}),
    provisionRequestsPerMinute: config.RIVULET_PROVISION_REQUESTS_PER_MINUTE,
    logger,
  });
  const http = createHttpTransport({
    service,
    logger,
    maxPayloadBytes: config.RIVULET_MAX_PAYLOAD_BYTES,
    maxLongPollsPerDevice: config.RIVULET_HTTP_LONG_POLLS_PER_DEVICE,
    onLongPoll: o.onLongPoll,
    // Behind a trusted reverse proxy, provisioning is limited per client, not per proxy.
    clientAddress: createClientAddressResolver(trustedProxyList(config.RIVULET_TRUSTED_PROXIES)),
  });
  const mqtt = createMqttTransport({
    service,
    logger,
    config: {
      port: config.RIVULET_MQTT_PORT,
      host: config.RIVULET_MQTT_HOST,
      maxPayloadBytes: config.RIVULET_MQTT_MAX_PAYLOAD,
      maxConnections: config.RIVULET_MQTT_MAX_CONNECTIONS,
      rateLimitMaxWaitMs: config.RIVULET_RATE_LIMIT_MAX_WAIT_MS,
      ...(tls ? { tls: { port: config.RIVULET_MQTT_TLS_PORT, host: config.RIVULET_MQTT_TLS_HOST ?? config.RIVULET_MQTT_HOST, options: mqttTlsOptions(tls) } } : {}),
    },
  });
  const { port: mqttPort, tlsPort: mqttTlsPort } = await mqtt.start();
  const mqttWs = createMqttWebSocket(mqtt, { maxPayloadBytes: config.RIVULET_MQTT_MAX_PAYLOAD });
  const coap: CoapTransport = createCoapTransport({
    service,
    logger,
    config: {
      port: config.RIVULET_COAP_PORT,
      host: config.RIVULET_COAP_HOST,
      maxPayloadBytes: config.RIVULET_MAX_PAYLOAD_BYTES,
      rateLimitMaxWaitMs: config.RIVULET_RATE_LIMIT_MAX_WAIT_MS,
    },
  });
  const coapPort = (await coap.start()).port;
  return {
    http,
    mqtt,
    coap,
    service,
    mqttWs,
    mqttPort,
    mqttTlsPort,
    coapPort,
    async stopAccepting() {
      // MQTT first (its connections close, their DISCONNECT_EVENTs are queued while the rule
      // engine still runs), then HTTP (new device requests get 503).
      await mqtt.stop();
      mqttWs.close();
      // CoAP: observers get 5.03, requests in progress reach the queue and are answered, the socket closes
      await coap.stop();
      http.stop();
    },
    async close() {
      gatewayDevices.close();
      // device state writes what is pending (a state event still waiting for the queue was refused by close)
      await deviceState.stop();
    },
  };
}
