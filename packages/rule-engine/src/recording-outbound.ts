import type { OutboundService } from './outbound';

function policyNote(real: OutboundService | undefined, host: string): string {
  if (!real) return 'no outbound capability on this server: the call would fail';
  const v = real.precheck?.(host);
  if (v === undefined || v === null) return 'decided after DNS, at call time';
  return v.allowed ? 'allowed' : `denied: ${v.reason}`;
}

function hostOf(raw: string): string {
  try {
    return new URL(raw).hostname;
  } catch {
    return '';
  }
}

/** An HTTP call a test run would have made. */
export type RecordedHttpCall = {
  kind: 'http';
  method: string;
  /** Credentials in the URL (user:password@, token-like query parameters) masked. */
  url: string;
  /** Credential-like headers (Authorization, Cookie, *token*, *key*, *secret*, ...) masked. */
  headers: Record<string, string>;
  body: string | null;
  /** What the outbound policy would say: "allowed", "denied: <reason>", or "decided after DNS". */
  policy: string;
};

/** An MQTT publish a test run would have made. */
export type RecordedMqttPublish = {
  kind: 'mqtt';
  host: string;
  port: number;
  ssl: boolean;
  clientId: string;
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  policy: string;
};

export const MASK = '***';
const SECRET_NAME = /auth|token|secret|passw|pwd|key|cookie|session|signature|credential/i;

export function maskHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, SECRET_NAME.test(k) ? MASK : v]));
}

export function maskUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return raw;
  }
  const secretParams = [...url.searchParams.keys()].filter((k) => SECRET_NAME.test(k));
  // As the node wrote it, unless there is something to mask (URL normalizes the rest).
  if (!url.password && secretParams.length === 0) return raw;
  if (url.password) url.password = MASK;
  for (const k of secretParams) url.searchParams.set(k, MASK);
  // URL re-encodes the mask; keep it readable.
  return url.href.replaceAll(encodeURIComponent(MASK), MASK);
}

/**
 * The outbound capability of test runs: nothing leaves the process. HTTP calls and MQTT publishes
 * are recorded (secrets masked) and answered as if they had worked: HTTP with a simulated 200, an
 * empty body and `simulated: true` (the REST API call node puts `simulated: test-run` in the
 * metadata); MQTT publishes resolve at once. No DNS lookup, no connection. Each record says what the
 * real capability's policy would decide where that is known without DNS (a literal address, a name
 * a list entry names); the node goes on either way.
 */
export function createRecordingOutbound(record: (call: RecordedHttpCall | RecordedMqttPublish) => void, real?: OutboundService): OutboundService {
  return {
    async http(req) {
      record({ kind: 'http', method: req.method, url: maskUrl(req.url), headers: maskHeaders(req.headers), body: req.body ?? null, policy: policyNote(real, hostOf(req.url)) });
      return { status: 200, statusText: 'OK', headers: {}, body: '', url: req.url, simulated: true };
    },
    mqtt(options) {
      return {
        async publish(topic, payload, o) {
          record({ kind: 'mqtt', host: options.host, port: options.port, ssl: options.ssl, clientId: options.clientId, topic, payload, qos: o.qos, retain: o.retain, policy: policyNote(real, options.host) });
        },
        async close() {},
      };
    },
    async check() {},
  };
}
