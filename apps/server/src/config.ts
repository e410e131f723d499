import type { TenantLimits } from '@rivulet/core';
import { parseOutboundEntry } from '@rivulet/outbound';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { HttpLimits } from './http-limits';

/**
 * Every setting, one environment variable each, with its default. Read once at start and validated;
 * docs/configuration.md lists the same table (a test keeps them in step).
 */
const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const positiveInt = (def: number) => z.coerce.number().int().positive().default(def);
const optionalString = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? undefined : s));

/** A comma-separated list of CIDRs, addresses and host names (the outbound policy's entries). */
const outboundList = z
  .string()
  .default('')
  .transform((s, ctx) => {
    const entries = s.split(',').map((e) => e.trim()).filter(Boolean);
    const bad = entries.filter((e) => parseOutboundEntry(e) === null);
    if (bad.length) {
      ctx.addIssue({ code: 'custom', message: `not a CIDR, address or host name: ${bad.join(', ')}` });
      return z.NEVER;
    }
    return entries;
  });
/** RIVULET_TRUSTED_PROXIES as a list. */
export function trustedProxyList(value: string): string[] {
  return value.split(',').map((p) => p.trim()).filter(Boolean);
}

function isAddressOrRange(entry: string): boolean {
  const [addr = '', bits] = entry.split('/');
  const family = isIP(addr);
  if (family === 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

export const ROLES = ['transport', 'rule-engine', 'api'] as const;
export type Role = (typeof ROLES)[number];

export const ConfigSchema = z
  .object({
    RIVULET_HTTP_PORT: port(8080).describe('HTTP port: device API (/api/v1), REST API and WebSocket (/api/ws).'),
    RIVULET_HTTP_HOST: z.string().default('0.0.0.0').describe('Address the HTTP server listens on.'),
    RIVULET_HTTP_MAX_CONNECTIONS: positiveInt(10000).describe('Most HTTP connections at once (HTTPS counts its own). Past it the oldest idle connection (no request in progress: header-less, slow headers, keep-alive) is closed to make room; when none is idle the new connection is closed at once. Counted and logged once per address per minute.'),
    RIVULET_HTTP_HEADERS_TIMEOUT_MS: positiveInt(10000).describe('Time a connection has to send a request\'s headers; then 408 and the connection closes (header-less and slowly trickled headers).'),
    RIVULET_HTTP_REQUEST_TIMEOUT_MS: positiveInt(30000).describe('Time a whole request (headers and body) may take to arrive; then 408 and the connection closes (a trickled body). Not the answer: long polls wait longer.'),
    RIVULET_HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(65000).describe('Idle time of a keep-alive HTTP connection between requests before the server closes it.'),
    RIVULET_HTTP_MAX_REQUESTS_PER_SOCKET: z.coerce.number().int().min(0).default(1000).describe('Requests on one keep-alive HTTP connection before the server closes it (Connection: close on the last); 0: no limit.'),
    RIVULET_HTTP_LONG_POLLS_PER_DEVICE: z.coerce.number().int().min(0).default(4).describe('HTTP device API long polls of one kind (RPC, attribute updates) one device may hold open; a new one past it replaces the oldest, which is answered 408. 0: no limit.'),
    RIVULET_MQTT_PORT: port(1883).describe('MQTT port (TCP) of the device API; 0 picks a free port. MQTT over WebSocket is served on the HTTP port at /mqtt.'),
    RIVULET_MQTT_HOST: z.string().default('0.0.0.0').describe('Address the MQTT transport listens on.'),
    RIVULET_MQTT_MAX_PAYLOAD: positiveInt(65536).describe('Largest MQTT PUBLISH payload accepted (bytes); a larger one closes the connection without PUBACK.'),
    RIVULET_MQTT_MAX_CONNECTIONS: positiveInt(20000).describe('Most MQTT device connections at once; past it CONNACK 3 (server unavailable).'),
    RIVULET_DEVICE_RATE_LIMIT: z.coerce.number().min(0).default(0).describe('Messages per second per device, on every transport together (burst of as many), before they are slowed (MQTT PUBACK held, CoAP answer held) or refused (HTTP 429); 0: no limit. A tenant profile overrides it (transportDeviceMsgRateLimit).'),
    RIVULET_RATE_LIMIT_MAX_WAIT_MS: z.coerce.number().int().min(0).default(10000).describe('Longest an MQTT PUBLISH or CoAP request is held back by the device or tenant rate limit; one further ahead is refused (MQTT: connection closed without PUBACK, CoAP: 4.29 with Max-Age). HTTP never holds (429 with Retry-After).'),
    RIVULET_PROVISION_REQUESTS_PER_MINUTE: z.coerce.number().int().min(0).default(10).describe('Device provisioning requests per source address per minute, MQTT, HTTP and CoAP together (IPv6 per /64); past it MQTT answers FAILURE on /provision/response, HTTP 429, CoAP 4.29. Keeps provisioning secrets from being guessed. 0: no limit.'),
    RIVULET_DEVICE_INACTIVITY_TIMEOUT_MS: positiveInt(600000).describe('A device without activity for this long becomes inactive (INACTIVITY_EVENT); a device\'s inactivityTimeout server attribute overrides it.'),
    RIVULET_RPC_PICKUP_TIMEOUT_MS: positiveInt(1000).describe('How long a server-side RPC (/api/rpc, the RPC call request node) waits for a transport to take it before answering 504 (no session), when the session registry says a process holds a session of the device (one that cannot take commands, or a process that died). A device no process holds a session of is answered at once.'),
    RIVULET_CLAIM_DURATION_MS: positiveInt(86400000).describe('How long a device\'s claim request stands (ThingsBoard\'s security.claim.duration) when the request names no positive durationMs.'),
    RIVULET_CLAIM_ALLOW_BY_DEFAULT: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true')
      .describe('Whether any unassigned device may ask to be claimed (ThingsBoard\'s security.claim.allowClaimingByDefault); false: only a device whose claimingAllowed server attribute is true.'),
    RIVULET_COAP_PORT: port(5683).describe('CoAP port (UDP) of the device API; 0 picks a free port.'),
    RIVULET_COAP_HOST: z.string().default('0.0.0.0').describe('Address the CoAP transport listens on (an IPv6 address such as :: listens on IPv6).'),
    RIVULET_PUBLIC_HOST: optionalString.describe('Host name devices use to reach this server, printed in the web app\'s Connect commands (GET /api/device-connectivity/{deviceId}); unset: the host the browser reached the server by.'),
    RIVULET_WEB_DIR: optionalString.describe('Directory of the web app\'s production build, served at / by the api role. Unset: web/ beside the built server (dist/server/web, npm run build), or apps/web/dist when running the sources (npm start builds both when missing or stale).'),
    RIVULET_DATA_DIR: z.string().default('./data').describe('Directory of the embedded database (PGlite), used when DATABASE_URL is unset.'),
    DATABASE_URL: optionalString.describe('PostgreSQL connection URL; when set, used instead of the embedded database.'),
    RIVULET_DB_POOL_SIZE: positiveInt(10).describe('PostgreSQL connections per process.'),
    RIVULET_QUEUE: z.enum(['memory', 'kafka']).default('memory').describe('Queue between transports and the rule engine: memory (one process) or kafka.'),
    KAFKA_BROKERS: optionalString.describe('Comma-separated Kafka bootstrap servers (RIVULET_QUEUE=kafka).'),
    RIVULET_QUEUE_COMMIT: z
      .enum(['after-processing', 'on-receipt'])
      .default('after-processing')
      .describe('When a rule engine commits a Kafka offset: after-processing (at-least-once: a crash repeats what was not committed; with idempotent storage no point is stored twice) or on-receipt (at-most-once: a crash loses what was received but not processed). See docs/delivery-semantics.md.'),
    RIVULET_QUEUE_PREFIX: z
      .string()
      .default('')
      .refine((s) => /^[A-Za-z0-9._-]{0,100}$/.test(s), { message: 'may hold only letters, digits, ".", "_" and "-" (Kafka topic names), at most 100 characters' })
      .describe('Put before every Kafka topic and consumer group name (e.g. "staging." gives staging.rivulet.rule-engine), so several deployments can share one Kafka cluster.'),
    RIVULET_RULE_CHAIN_CHECK_MS: positiveInt(10000).describe('Kafka: every this many ms a rule engine compares the version of each root chain and device profile chain it runs with storage and reloads changed ones, and re-reads (in the background) the device -> profile -> chain routes it cached longer ago, so an engine that missed a rule-chain, device or profile change event (the broadcast is at-most-once) runs an old chain or route for one interval at most. Not used with the memory queue (events cannot be missed in one process).'),
    RIVULET_QUEUE_MAX_LAG: positiveInt(100000).describe('Kafka: when the rule engines\' consumer group lags more messages than this, transports wait before handing over more (MQTT PUBACK and CoAP answers held, as with a full memory queue) instead of letting lag grow until retention deletes data.'),
    RIVULET_NODE_ID: z
      .string()
      .optional()
      .refine((s) => s === undefined || s === '' || /^[A-Za-z0-9._-]{1,100}$/.test(s), { message: 'may hold only letters, digits, ".", "_" and "-", at most 100 characters' })
      .describe('Name of this process among the processes sharing a Kafka cluster (its directed messages topic rivulet.node.<id>, the device sessions it holds). Unset: host name and process id. Must differ between processes.'),
    RIVULET_ROLES: z
      .string()
      .default('all')
      .transform((s, ctx) => {
        const parts = s.split(',').map((p) => p.trim()).filter(Boolean);
        if (parts.length === 1 && parts[0] === 'all') return [...ROLES];
        for (const p of parts) {
          if (!(ROLES as readonly string[]).includes(p)) {
            ctx.addIssue({ code: 'custom', message: `unknown role "${p}" (roles: all, ${ROLES.join(', ')})` });
            return z.NEVER;
          }
        }
        if (parts.length === 0) {
          ctx.addIssue({ code: 'custom', message: 'no role given' });
          return z.NEVER;
        }
        return parts as Role[];
      })
      .describe('Roles this process runs: all, or a comma list of transport, rule-engine, api.'),
    RIVULET_ADMIN_EMAIL: z.string().email().default('tenant@rivulet.local').describe('E-mail of the administrator created on first start.'),
    RIVULET_ADMIN_PASSWORD: optionalString.describe('Password of that administrator, used on the first start only (empty data directory or database); when unset a random one is generated and printed once. Must be at least RIVULET_PASSWORD_MIN_LENGTH characters, or the server refuses to start.'),
    RIVULET_SYSADMIN_EMAIL: z.string().email().default('sysadmin@rivulet.local').describe('E-mail of the system administrator (SYS_ADMIN: manages tenants and their administrators) created on first start.'),
    RIVULET_SYSADMIN_PASSWORD: optionalString.describe('Password of the system administrator, used when it is created (first start) only; when unset a random one is generated and printed once. Must be at least RIVULET_PASSWORD_MIN_LENGTH characters, or the server refuses to start.'),
    RIVULET_JWT_SECRET: optionalString.describe('Secret that signs JWTs. Unset: generated and kept in RIVULET_DATA_DIR/jwt-secret. Set it when several processes serve the API. At least 32 characters, or the server refuses to start.'),
    RIVULET_PASSWORD_MIN_LENGTH: z.coerce.number().int().min(1).max(256).default(8).describe('Shortest password accepted wherever one is set: users, change and reset password, RIVULET_ADMIN_PASSWORD (the server refuses to start with a shorter one).'),
    RIVULET_LOGIN_MAX_FAILURES: z.coerce.number().int().min(0).default(5).describe('Failed logins in a row that lock an account for RIVULET_LOGIN_LOCKOUT_SECONDS (ThingsBoard\'s maxFailedLoginAttempts); 0: accounts are never locked.'),
    RIVULET_LOGIN_LOCKOUT_SECONDS: positiveInt(300).describe('How long a locked account or throttled address is refused, and how long failed logins are remembered.'),
    RIVULET_LOGIN_ADDRESS_MAX_FAILURES: positiveInt(20).describe('Failed logins from one client address (any accounts) before that address gets 429 for RIVULET_LOGIN_LOCKOUT_SECONDS.'),
    RIVULET_LOGIN_MAX_CONCURRENT_HASHES: positiveInt(2).describe('Password hashes (scrypt) verified at once by this process; more logins wait in line, addresses without recent failures first.'),
    RIVULET_TRUSTED_PROXIES: z
      .string()
      .default('')
      .refine((s) => trustedProxyList(s).every((e) => isAddressOrRange(e)), { message: 'must be comma-separated IP addresses or CIDR ranges' })
      .describe('Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client (login throttling, provisioning requests per address over HTTP); empty: the socket address is the client.'),
    RIVULET_JWT_TOKEN_EXPIRATION_SECONDS: positiveInt(9000).describe('Lifetime of an access token (ThingsBoard\'s JWT_TOKEN_EXPIRATION_TIME); the web app refreshes it before it runs out.'),
    RIVULET_JWT_REFRESH_TOKEN_EXPIRATION_SECONDS: positiveInt(604800).describe('Lifetime of a refresh token (ThingsBoard\'s JWT_REFRESH_TOKEN_EXPIRATION_TIME): a session unused this long ends and the web app asks to sign in again.'),
    RIVULET_PASSWORD_RESET_TTL_SECONDS: positiveInt(3600).describe('Lifetime of a password reset link (POST /api/noauth/resetPasswordByEmail logs it for the operator).'),
    RIVULET_SESSION_REVOCATION_CACHE_SECONDS: z.coerce.number().int().min(0).default(5).describe('How long a process trusts that a session is not revoked before reading storage again: the delay before a logout made through another process stops its access tokens. 0: read on every request.'),
    RIVULET_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Log level (JSON logs on stdout).'),
    RIVULET_MAX_PAYLOAD_BYTES: positiveInt(65536).describe('Largest device payload accepted (HTTP 413, CoAP 4.13 above it; for CoAP also after block-wise reassembly). A tenant profile may lower it for its tenants (maxPayloadBytes), never raise it.'),
    RIVULET_TENANT_RATE_LIMIT: z.coerce.number().min(0).default(0).describe('Messages per second for all devices of one tenant together, on every transport (burst of as many), before they are slowed (MQTT PUBACK held, CoAP answer held) or refused (HTTP 429); 0: no limit. A tenant profile overrides it (transportTenantMsgRateLimit).'),
    RIVULET_MAX_DEVICES_PER_TENANT: z.coerce.number().int().min(0).default(0).describe('Devices one tenant may have; 0: no limit. A tenant profile overrides it (maxDevices).'),
    RIVULET_MAX_RULE_CHAINS_PER_TENANT: z.coerce.number().int().min(0).default(0).describe('Rule chains one tenant may have; 0: no limit. A tenant profile overrides it (maxRuleChains).'),
    RIVULET_MAX_NODES_PER_RULE_CHAIN: z.coerce.number().int().min(0).default(500).describe('Nodes in one rule chain; 0: no limit. A tenant profile overrides it (maxRuleNodesPerChain).'),
    RIVULET_MAX_KEY_LENGTH: z.coerce.number().int().min(0).default(255).describe('Longest telemetry or attribute key, characters (ThingsBoard\'s columns hold 255); 0: no limit. A tenant profile overrides it (maxKeyLength).'),
    RIVULET_MAX_KEYS_PER_MESSAGE: z.coerce.number().int().min(0).default(1000).describe('Most keys in one telemetry or attribute message; 0: no limit. A tenant profile overrides it (maxKeysPerMessage).'),
    RIVULET_MAX_WS_SESSIONS_PER_TENANT: z.coerce.number().int().min(0).default(500).describe('WebSocket sessions of one tenant\'s users at once; 0: no limit. A tenant profile overrides it (maxWsSessionsPerTenant).'),
    RIVULET_MAX_WS_SUBSCRIPTIONS_PER_TENANT: z.coerce.number().int().min(0).default(10000).describe('WebSocket subscriptions of one tenant at once; 0: no limit. A tenant profile overrides it (maxWsSubscriptionsPerTenant).'),
    RIVULET_SCRIPT_TIMEOUT_MS: positiveInt(100).describe('Longest run of one script invocation (script, filter, switch, transform and generator nodes), ms. A tenant profile overrides it (maxScriptExecutionMs).'),
    RIVULET_SCRIPT_MEMORY_MB: positiveInt(16).describe('Memory one script context may use, MiB. A tenant profile overrides it (maxScriptMemoryMb).'),
    RIVULET_SCRIPT_MAX_STRIKES: positiveInt(3).describe('Different messages that may hit a script\'s time limit (or crash the script sandbox) within RIVULET_SCRIPT_STRIKE_WINDOW_MS before its node is disabled; retries of one message count once.'),
    RIVULET_SCRIPT_STRIKE_WINDOW_MS: positiveInt(60000).describe('Window in which strikes against a script node count, ms.'),
    RIVULET_SCRIPT_DISABLE_COOLDOWN_MS: positiveInt(60000).describe('How long a disabled script node refuses messages before it runs again by itself, ms (saving its chain also re-enables it).'),
    RIVULET_SCRIPT_MAX_TENANT_HARD_KILLS: positiveInt(5).describe('Different messages of one tenant\'s scripts (all its nodes together) that may hang the shared script worker past its deadline or crash it within RIVULET_SCRIPT_STRIKE_WINDOW_MS before all that tenant\'s scripts are suspended for RIVULET_SCRIPT_DISABLE_COOLDOWN_MS (the worker serves every tenant).'),
    RIVULET_MIN_GENERATOR_PERIOD_MS: positiveInt(1000).describe('Shortest period of a generator node, ms (ThingsBoard\'s is 1 s). A tenant profile overrides it (minGeneratorPeriodMs).'),
    RIVULET_QUEUE_PARTITIONS: positiveInt(8).describe('Partitions of the in-memory queue (ordering is per device).'),
    RIVULET_QUEUE_CAPACITY: positiveInt(10000).describe('Messages held per partition of the in-memory queue before producers wait (backpressure).'),
    RIVULET_RULE_ENGINE_RETRIES: z.coerce.number().int().min(0).default(5).describe('Times a failed message is run through the chain again before it is given up and written to the dead-letter topic (rivulet.rule-engine.dlq).'),
    RIVULET_RULE_ENGINE_PACK_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .min(0)
      .default(8000)
      .describe(
        'ThingsBoard\'s packProcessingTimeout: longest pass of the rule engine over one batch, ms; messages still running then are timed out and given up to the dead-letter topic (unless their chain\'s processingStrategy retries timed-out ones), so one slow node cannot stall a partition. 0: no limit.',
      ),
    RIVULET_DEBUG_EVENTS_PER_NODE: positiveInt(1000).describe('Rule node debug events kept per node (the newest); older ones are deleted as new ones arrive.'),
    RIVULET_TIMESERIES_TTL_DAYS: z.coerce.number().min(0).default(0).describe('Time series points older than this many days (by their ts) are deleted by the retention job; 0: kept forever. A tenant profile overrides it (defaultStorageTtlDays). The latest value of each key is kept.'),
    RIVULET_RETENTION_INTERVAL_SECONDS: positiveInt(3600).describe('How often the rule engine runs the time series retention job (batched deletes, then VACUUM of ts_kv).'),
    RIVULET_CLEARED_ALARMS_TTL_DAYS: z.coerce.number().min(0).default(0).describe('Alarms cleared more than this many days ago are deleted by the retention job (every RIVULET_RETENTION_INTERVAL_SECONDS); 0: kept forever. Active alarms are never deleted.'),
    RIVULET_DEBUG_EVENTS_TTL_SECONDS: positiveInt(604800).describe('Rule node debug events older than this are deleted (hourly); default one week, as ThingsBoard.'),
    RIVULET_OUTBOUND_ALLOW: outboundList.describe(
      'Comma-separated CIDRs (10.1.0.0/16), addresses and host names (api.example.com, *.example.com) rule nodes may call even inside the ranges denied by default (loopback, private, link-local, CGNAT, multicast); see docs/operations.md.',
    ),
    RIVULET_RULE_KAFKA_MAX_PRODUCERS: z.coerce
      .number()
      .int()
      .min(0)
      .default(16)
      .describe('Kafka producers the Kafka rule node may open, all tenants together (one per tenant and bootstrapServers/acks/retries, shared by its nodes). 0: this deployment offers no Kafka node, and a chain with one is refused when saved or loaded.'),
    RIVULET_RULE_KAFKA_MAX_PRODUCERS_PER_TENANT: positiveInt(4).describe('Kafka producers one tenant\'s Kafka rule nodes may open; a chain that would open more fails to load with a clear error.'),
    RIVULET_OUTBOUND_DENY: outboundList.describe('Comma-separated CIDRs, addresses and host names rule nodes may not call, on top of the ranges denied by default. The most specific entry of the two lists wins.'),
    RIVULET_CORS_ORIGINS: z
      .string()
      .default('')
      .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
      .describe('Comma-separated browser origins allowed to call the REST API (CORS), e.g. https://dash.example.com; * allows any; empty (default): none, CORS closed.'),
    RIVULET_API_RATE_LIMIT: z.coerce.number().int().min(0).default(3000).describe('REST API requests per client address per RIVULET_API_RATE_LIMIT_WINDOW_MS before 429; 0: no limit. Not the device API, not /api/health.'),
    RIVULET_API_RATE_LIMIT_WINDOW_MS: positiveInt(60000).describe('Window of the REST API rate limit.'),
    RIVULET_METRICS_TOKEN: optionalString.describe('Bearer token a Prometheus scrape of /metrics must send (Authorization: Bearer <token>; at least 16 characters). Unset: /metrics answers loopback clients only (and not through a proxy that sets X-Forwarded-For or Forwarded), 403 for anyone else.'),
    RIVULET_SHUTDOWN_TIMEOUT_MS: positiveInt(30000).describe('Longest a graceful shutdown (SIGTERM) waits for the queue to drain.'),
    RIVULET_TLS_CERT: optionalString.describe('PEM file of the server certificate (followed by its intermediates). With RIVULET_TLS_KEY it turns on MQTT over TLS (RIVULET_MQTT_TLS_PORT) and HTTPS (RIVULET_HTTPS_PORT) beside the plain ports; a missing, unreadable or mismatched pair refuses start.'),
    RIVULET_TLS_KEY: optionalString.describe('PEM file of the private key of RIVULET_TLS_CERT (unencrypted; keep it 0600).'),
    RIVULET_MQTT_TLS_PORT: port(8883).describe('MQTT over TLS port, used when RIVULET_TLS_CERT is set; 0 picks a free port.'),
    RIVULET_MQTT_TLS_CLIENT_CA: optionalString.describe('PEM file of CA certificates; when set, MQTT over TLS requires every client to present a certificate issued by one of them (mutual TLS), in addition to its access token.'),
    RIVULET_MQTT_TLS_HOST: optionalString.describe('Address MQTT over TLS listens on; unset: RIVULET_MQTT_HOST.'),
    RIVULET_HTTPS_PORT: port(8443).describe('HTTPS port (device API, REST API, WebSocket wss:// /api/ws and /mqtt), used when RIVULET_TLS_CERT is set; 0 picks a free port.'),
    RIVULET_HTTPS_HOST: optionalString.describe('Address HTTPS listens on; unset: RIVULET_HTTP_HOST.'),
  })
  .superRefine((c, ctx) => {
    if (c.RIVULET_JWT_SECRET !== undefined && c.RIVULET_JWT_SECRET.length < 32) {
      ctx.addIssue({ code: 'custom', path: ['RIVULET_JWT_SECRET'], message: `must be at least 32 characters long (it has ${c.RIVULET_JWT_SECRET.length}); unset it to have one generated` });
    }
    if (c.RIVULET_METRICS_TOKEN !== undefined && c.RIVULET_METRICS_TOKEN.trim().length < 16) {
      ctx.addIssue({ code: 'custom', path: ['RIVULET_METRICS_TOKEN'], message: `must be at least 16 characters long (it has ${c.RIVULET_METRICS_TOKEN.trim().length}); unset it to serve /metrics to loopback clients only` });
    }
    if (c.RIVULET_ADMIN_PASSWORD !== undefined && [...c.RIVULET_ADMIN_PASSWORD].length < c.RIVULET_PASSWORD_MIN_LENGTH) {
      ctx.addIssue({ code: 'custom', path: ['RIVULET_ADMIN_PASSWORD'], message: `must be at least ${c.RIVULET_PASSWORD_MIN_LENGTH} characters long (RIVULET_PASSWORD_MIN_LENGTH); unset it to have one generated` });
    }
    if (c.RIVULET_SYSADMIN_PASSWORD !== undefined && [...c.RIVULET_SYSADMIN_PASSWORD].length < c.RIVULET_PASSWORD_MIN_LENGTH) {
      ctx.addIssue({ code: 'custom', path: ['RIVULET_SYSADMIN_PASSWORD'], message: `must be at least ${c.RIVULET_PASSWORD_MIN_LENGTH} characters long (RIVULET_PASSWORD_MIN_LENGTH); unset it to have one generated` });
    }
    if (c.RIVULET_SYSADMIN_EMAIL.trim().toLowerCase() === c.RIVULET_ADMIN_EMAIL.trim().toLowerCase()) {
      ctx.addIssue({ code: 'custom', path: ['RIVULET_SYSADMIN_EMAIL'], message: 'must differ from RIVULET_ADMIN_EMAIL (one account cannot be both)' });
    }
    if (c.RIVULET_HTTP_HEADERS_TIMEOUT_MS > c.RIVULET_HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['RIVULET_HTTP_HEADERS_TIMEOUT_MS'], message: 'must not be longer than RIVULET_HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)' });
    }
    if (c.RIVULET_QUEUE === 'kafka' && !c.KAFKA_BROKERS) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: 'is required when RIVULET_QUEUE=kafka' });
    }
    if (c.RIVULET_MQTT_TLS_CLIENT_CA && !c.RIVULET_TLS_CERT) {
      ctx.addIssue({ code: 'custom', path: ['RIVULET_MQTT_TLS_CLIENT_CA'], message: 'needs TLS turned on (RIVULET_TLS_CERT and RIVULET_TLS_KEY)' });
    }
    if (Boolean(c.RIVULET_TLS_CERT) !== Boolean(c.RIVULET_TLS_KEY)) {
      ctx.addIssue({ code: 'custom', path: [c.RIVULET_TLS_CERT ? 'RIVULET_TLS_KEY' : 'RIVULET_TLS_CERT'], message: 'TLS needs both RIVULET_TLS_CERT and RIVULET_TLS_KEY' });
    }
    if (c.RIVULET_QUEUE === 'memory' && c.RIVULET_ROLES.length < ROLES.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['RIVULET_ROLES'],
        message: 'splitting roles across processes needs a shared queue (RIVULET_QUEUE=kafka); the memory queue runs all roles in one process',
      });
    }
  });

export type Config = z.output<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const r = ConfigSchema.safeParse(env);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return r.data;
}

/** The settings table (name, default, description) for docs/configuration.md. */
export function configReference(): Array<{ name: string; default: string; description: string }> {
  const shape = ConfigSchema.shape;
  return Object.entries(shape).map(([name, schema]) => {
    let def = '';
    try {
      const v = (schema as z.ZodType).safeParse(undefined);
      if (v.success && v.data !== undefined) def = Array.isArray(v.data) ? (name === 'RIVULET_ROLES' ? 'all' : v.data.join(',')) : String(v.data);
    } catch {
      def = '';
    }
    return { name, default: def, description: (schema as z.ZodType).description ?? '' };
  });
}

/** The HTTP(S) servers' connection limits and timeouts. */
export function httpLimits(config: Config): HttpLimits {
  return {
    maxConnections: config.RIVULET_HTTP_MAX_CONNECTIONS,
    headersTimeoutMs: config.RIVULET_HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.RIVULET_HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.RIVULET_HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxRequestsPerSocket: config.RIVULET_HTTP_MAX_REQUESTS_PER_SOCKET,
  };
}

/** The limits every tenant has unless its tenant profile overrides them. */
export function globalTenantLimits(config: Config): TenantLimits {
  return {
    maxDevices: config.RIVULET_MAX_DEVICES_PER_TENANT,
    maxRuleChains: config.RIVULET_MAX_RULE_CHAINS_PER_TENANT,
    maxRuleNodesPerChain: config.RIVULET_MAX_NODES_PER_RULE_CHAIN,
    transportDeviceMsgRateLimit: config.RIVULET_DEVICE_RATE_LIMIT,
    transportTenantMsgRateLimit: config.RIVULET_TENANT_RATE_LIMIT,
    // none of its own: each transport's setting applies (RIVULET_MAX_PAYLOAD_BYTES for HTTP and CoAP,
    // RIVULET_MQTT_MAX_PAYLOAD for MQTT); a tenant profile may only lower them
    maxPayloadBytes: 0,
    maxKeyLength: config.RIVULET_MAX_KEY_LENGTH,
    maxKeysPerMessage: config.RIVULET_MAX_KEYS_PER_MESSAGE,
    maxWsSessionsPerTenant: config.RIVULET_MAX_WS_SESSIONS_PER_TENANT,
    maxWsSubscriptionsPerTenant: config.RIVULET_MAX_WS_SUBSCRIPTIONS_PER_TENANT,
    maxScriptExecutionMs: config.RIVULET_SCRIPT_TIMEOUT_MS,
    maxScriptMemoryMb: config.RIVULET_SCRIPT_MEMORY_MB,
    minGeneratorPeriodMs: config.RIVULET_MIN_GENERATOR_PERIOD_MS,
    maxDebugEventsPerNode: config.RIVULET_DEBUG_EVENTS_PER_NODE,
    defaultStorageTtlDays: config.RIVULET_TIMESERIES_TTL_DAYS,
  };
}
