import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { SimDevice } from '../devices';
import { expand, SendError, type DeviceConnection, type ProtocolClient, type SendKind } from './types';

export interface MqttClientOptions {
  /** mqtt://host:port */
  url: string;
  qos?: 0 | 1;
  /** MQTT 3.1.1 (4, the default) or MQTT 5. */
  protocolVersion?: 4 | 5;
  /** Topic templates ({token}, {name}, {id}); ThingsBoard's by default. */
  telemetryTopic?: string;
  attributesTopic?: string;
  /** Username template: the access token by default (ThingsBoard's device auth). */
  username?: string;
  clientId?: string;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  /** Injected for tests; mqtt.js's connect by default. */
  connect?: (url: string, opts: IClientOptions) => MqttClient;
}

/** Devices over MQTT 3.1.1 (or 5), one connection each, no automatic reconnect (a lost connection is an error to count). */
export function createMqttClient(opts: MqttClientOptions): ProtocolClient {
  const connect = opts.connect ?? mqtt.connect;
  const qos = opts.qos ?? 1;
  const topics: Record<SendKind, string> = {
    telemetry: opts.telemetryTopic ?? 'v1/devices/me/telemetry',
    attributes: opts.attributesTopic ?? 'v1/devices/me/attributes',
  };
  const live = new Set<MqttClient>();

  return {
    protocol: 'mqtt',
    connect(device: SimDevice) {
      const client = connect(opts.url, {
        protocolVersion: opts.protocolVersion ?? 4,
        clean: true,
        username: expand(opts.username ?? '{token}', device),
        clientId: expand(opts.clientId ?? '{name}', device),
        keepalive: opts.keepaliveS ?? 60,
        reconnectPeriod: 0,
        connectTimeout: opts.connectTimeoutMs ?? 30_000,
      });
      live.add(client);
      const perDevice: Record<SendKind, string> = { telemetry: expand(topics.telemetry, device), attributes: expand(topics.attributes, device) };
      return new Promise<DeviceConnection>((resolve, reject) => {
        const fail = (e: Error) => {
          cleanup();
          live.delete(client);
          client.end(true);
          reject(new SendError('CONNECT_FAILED', `${device.name}: MQTT connect failed: ${e.message}`, { cause: e }));
        };
        const onClose = () => fail(new Error('connection closed before CONNACK'));
        const cleanup = () => {
          client.off('error', fail);
          client.off('close', onClose);
        };
        client.once('error', fail);
        client.once('close', onClose);
        client.once('connect', () => {
          cleanup();
          // Errors after connect (e.g. the server closing) surface as failed sends.
          client.on('error', () => undefined);
          resolve({
            send(kind, payload, done) {
              if (!client.connected) {
                done(new SendError('DISCONNECTED', `${device.name}: not connected`));
                return;
              }
              client.publish(perDevice[kind], payload, { qos }, (err) => done(err ? new SendError('PUBLISH_FAILED', err.message, { cause: err }) : undefined));
            },
            close() {
              live.delete(client);
              return new Promise<void>((r) => client.end(false, {}, () => r()));
            },
          });
        });
      });
    },
    async close() {
      await Promise.all([...live].map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
      live.clear();
    },
  };
}
