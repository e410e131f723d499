import { ErrorCode, RivuletError, errorMessage, type Logger } from '@rivulet/core';
import type { OutboundMqttClient, OutboundMqttOptions } from '@rivulet/rule-engine';
import { MqttClient, type IClientOptions } from 'mqtt';
import { connectChecked } from './connect';
import type { OutboundPolicy } from './policy';

/**
 * An MQTT connection whose every (re)connect goes through connectChecked. The broker host is also
 * checked before the client is made, so a denied broker fails the publish at once with the policy's
 * error instead of after the connect timeout. Opened on the first publish, kept (mqtt.js reconnects)
 * until close().
 */
export function checkedMqtt(policy: OutboundPolicy, logger: Logger, options: OutboundMqttOptions): OutboundMqttClient {
  let client: MqttClient | undefined;
  let lastError = '';
  let closed = false;
  const where = `${options.host}:${options.port}`;

  function create(): MqttClient {
    const clientOptions: IClientOptions = {
      host: options.host,
      port: options.port,
      protocol: options.ssl ? 'mqtts' : 'mqtt',
      protocolVersion: options.protocolVersion,
      clientId: options.clientId,
      clean: options.clean,
      connectTimeout: options.connectTimeoutMs,
      reconnectPeriod: options.reconnectPeriodMs ?? 5000,
      queueQoSZero: false,
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
    };
    const tls = options.ssl
      ? {
          ...(options.ca ? { ca: options.ca } : {}),
          ...(options.cert ? { cert: options.cert } : {}),
          ...(options.key ? { key: options.key } : {}),
          ...(options.passphrase ? { passphrase: options.passphrase } : {}),
        }
      : undefined;
    const c = new MqttClient(() => connectChecked(policy, { host: options.host, port: options.port, ...(tls ? { tls } : {}) }), clientOptions);
    c.on('error', (e) => {
      lastError = errorMessage(e);
      logger.warn({ host: options.host, port: options.port, err: lastError }, 'external MQTT broker error');
    });
    return c;
  }

  async function ready(): Promise<MqttClient> {
    if (closed) throw new RivuletError(ErrorCode.UNAVAILABLE, `MQTT connection to ${where} is closed`);
    if (!client) {
      // Before any connection: a denied broker fails here, with the policy's reason.
      await policy.resolve(options.host);
      client ??= create();
    }
    const c = client;
    if (c.connected) return c;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        c.off('connect', onConnect);
        reject(new RivuletError(ErrorCode.UNAVAILABLE, `Not connected to MQTT broker ${where} within ${options.connectTimeoutMs / 1000} s${lastError ? `: ${lastError}` : ''}`));
      }, options.connectTimeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve(c);
      };
      c.once('connect', onConnect);
    });
  }

  return {
    async publish(topic, payload, publishOptions) {
      const c = await ready();
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          c.publishAsync(topic, payload, { qos: publishOptions.qos, retain: publishOptions.retain }),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new RivuletError(ErrorCode.TIMEOUT, `MQTT broker did not acknowledge within ${options.connectTimeoutMs / 1000} s`)), options.connectTimeoutMs);
          }),
        ]);
      } finally {
        if (timer) clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
      const c = client;
      client = undefined;
      await c?.endAsync(true).catch(() => {});
    },
  };
}
