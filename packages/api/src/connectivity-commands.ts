import type { DeviceConnectivity } from '@rivulet/api-types';

/**
 * The commands of GET /api/device-connectivity/{deviceId}: one telemetry message as the device over
 * each protocol, in ThingsBoard's shape (DeviceConnectivityUtil), with valid JSON payloads (Rivulet's
 * transports parse JSON strictly; ThingsBoard's example `{temperature:25}` is not JSON) and every
 * argument quoted for a POSIX shell, since a token may hold characters a shell would interpret.
 */

export interface ConnectivityEndpoints {
  /** Host name or address devices reach (no port); an IPv6 address without brackets. */
  host: string;
  /** `http://host:port` of the device HTTP API, as the caller reached the server. */
  httpBase: string;
  /** MQTT TCP port; undefined: no MQTT command. */
  mqttPort?: number | undefined;
  /** CoAP UDP port; undefined: no CoAP command. */
  coapPort?: number | undefined;
}

export const TELEMETRY_EXAMPLE = '{"temperature":25}';

/** Quotes a word for sh/bash: bare when it is plainly safe, else in single quotes. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function connectivityCommands(e: ConnectivityEndpoints, token: string, gateway: boolean): DeviceConnectivity {
  const q = shellQuote;
  const pathToken = encodeURIComponent(token);
  const out: DeviceConnectivity = {
    http: {
      http: `curl -v -X POST ${q(`${e.httpBase}/api/v1/${pathToken}/telemetry`)} --header Content-Type:application/json --data ${q(TELEMETRY_EXAMPLE)}`,
    },
  };
  const mqtt = (topic: string, payload: string) =>
    `mosquitto_pub -d -q 1 -h ${q(e.host)} -p ${e.mqttPort} -t ${q(topic)} -u ${q(token)} -m ${q(payload)}`;
  if (e.mqttPort !== undefined) out.mqtt = { mqtt: mqtt('v1/devices/me/telemetry', TELEMETRY_EXAMPLE) };
  if (e.coapPort !== undefined) {
    // Debian's libcoap client without DTLS is coap-client-notls (coap-client elsewhere).
    out.coap = {
      coap: `coap-client-notls -v 6 -m post -t application/json -e ${q(TELEMETRY_EXAMPLE)} ${q(`coap://${bracketed(e.host)}:${e.coapPort}/api/v1/${pathToken}/telemetry`)}`,
    };
  }
  if (gateway && e.mqttPort !== undefined) {
    // ThingsBoard's gateway MQTT API: the gateway speaks for the devices it names.
    out.gateway = {
      connect: mqtt('v1/gateway/connect', '{"device":"Device A","type":"sensor"}'),
      telemetry: mqtt('v1/gateway/telemetry', '{"Device A":[{"temperature":25}]}'),
      attributes: mqtt('v1/gateway/attributes', '{"Device A":{"firmware":"1.0.0"}}'),
      disconnect: mqtt('v1/gateway/disconnect', '{"device":"Device A"}'),
    };
  }
  return out;
}

/**
 * The host part of a Host header if it is a plain name or address (so it is safe in a command), else
 * undefined. `[::1]:8080` gives `::1`.
 */
export function hostOf(hostHeader: string | undefined): { host: string; port: string | undefined } | undefined {
  if (!hostHeader) return undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(hostHeader);
  if (v6) return { host: v6[1]!, port: v6[2] };
  const plain = /^([A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/.exec(hostHeader);
  if (plain) return { host: plain[1]!, port: plain[2] };
  return undefined;
}
