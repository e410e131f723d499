import { z } from 'zod';

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

export const ROLES = ['transport', 'rule-engine', 'api'] as const;
export type Role = (typeof ROLES)[number];

export const ConfigSchema = z
  .object({
    RIVULET_HTTP_PORT: port(8080).describe('HTTP port: device API (/api/v1), REST API and WebSocket (/api/ws).'),
    RIVULET_HTTP_HOST: z.string().default('0.0.0.0').describe('Address the HTTP server listens on.'),
    RIVULET_MQTT_PORT: port(1883).describe('MQTT port (TCP) of the device API; 0 picks a free port. MQTT over WebSocket is served on the HTTP port at /mqtt.'),
    RIVULET_MQTT_HOST: z.string().default('0.0.0.0').describe('Address the MQTT transport listens on.'),
    RIVULET_MQTT_MAX_PAYLOAD: positiveInt(65536).describe('Largest MQTT PUBLISH payload accepted (bytes); a larger one closes the connection without PUBACK.'),
    RIVULET_MQTT_MAX_CONNECTIONS: positiveInt(20000).describe('Most MQTT device connections at once; past it CONNACK 3 (server unavailable).'),
    RIVULET_DEVICE_RATE_LIMIT: z.coerce.number().min(0).default(0).describe('Messages per second per device (burst of as many) before acknowledgements are held back; 0: no limit.'),
    RIVULET_DEVICE_INACTIVITY_TIMEOUT_MS: positiveInt(600000).describe('A device without activity for this long becomes inactive (INACTIVITY_EVENT); a device\'s inactivityTimeout server attribute overrides it.'),
    RIVULET_RPC_PICKUP_TIMEOUT_MS: positiveInt(1000).describe('How long a server-side RPC (/api/rpc) waits for a transport to take it before answering 504 (no session).'),
    RIVULET_COAP_PORT: port(5683).describe('CoAP port (UDP) of the device API; 0 picks a free port.'),
    RIVULET_COAP_HOST: z.string().default('0.0.0.0').describe('Address the CoAP transport listens on (an IPv6 address such as :: listens on IPv6).'),
    RIVULET_DATA_DIR: z.string().default('./data').describe('Directory of the embedded database (PGlite), used when DATABASE_URL is unset.'),
    DATABASE_URL: optionalString.describe('PostgreSQL connection URL; when set, used instead of the embedded database.'),
    RIVULET_DB_POOL_SIZE: positiveInt(10).describe('PostgreSQL connections per process.'),
    RIVULET_QUEUE: z.enum(['memory', 'kafka']).default('memory').describe('Queue between transports and the rule engine: memory (one process) or kafka.'),
    KAFKA_BROKERS: optionalString.describe('Comma-separated Kafka bootstrap servers (RIVULET_QUEUE=kafka).'),
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
    RIVULET_ADMIN_PASSWORD: optionalString.describe('Password of that administrator, used on the first start only (empty data directory or database); when unset a random one is generated and printed once.'),
    RIVULET_JWT_SECRET: optionalString.describe('Secret that signs JWTs. Unset: generated and kept in RIVULET_DATA_DIR/jwt-secret. Set it when several processes serve the API.'),
    RIVULET_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').describe('Log level (JSON logs on stdout).'),
    RIVULET_MAX_PAYLOAD_BYTES: positiveInt(65536).describe('Largest device payload accepted (HTTP 413, CoAP 4.13 above it; for CoAP also after block-wise reassembly).'),
    RIVULET_QUEUE_PARTITIONS: positiveInt(8).describe('Partitions of the in-memory queue (ordering is per device).'),
    RIVULET_QUEUE_CAPACITY: positiveInt(10000).describe('Messages held per partition of the in-memory queue before producers wait (backpressure).'),
    RIVULET_RULE_ENGINE_RETRIES: z.coerce.number().int().min(0).default(5).describe('Times a failed message is run through the chain again before it is skipped and logged.'),
    RIVULET_DEBUG_EVENTS_PER_NODE: positiveInt(1000).describe('Rule node debug events kept per node (the newest); older ones are deleted as new ones arrive.'),
    RIVULET_DEBUG_EVENTS_TTL_SECONDS: positiveInt(604800).describe('Rule node debug events older than this are deleted (hourly); default one week, as ThingsBoard.'),
    RIVULET_CORS_ORIGINS: z
      .string()
      .default('')
      .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
      .describe('Comma-separated browser origins allowed to call the REST API (CORS), e.g. https://dash.example.com; * allows any; empty (default): none, CORS closed.'),
    RIVULET_API_RATE_LIMIT: z.coerce.number().int().min(0).default(3000).describe('REST API requests per client address per RIVULET_API_RATE_LIMIT_WINDOW_MS before 429; 0: no limit. Not the device API, not /api/health.'),
    RIVULET_API_RATE_LIMIT_WINDOW_MS: positiveInt(60000).describe('Window of the REST API rate limit.'),
    RIVULET_SHUTDOWN_TIMEOUT_MS: positiveInt(30000).describe('Longest a graceful shutdown (SIGTERM) waits for the queue to drain.'),
  })
  .superRefine((c, ctx) => {
    if (c.RIVULET_QUEUE === 'kafka' && !c.KAFKA_BROKERS) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: 'is required when RIVULET_QUEUE=kafka' });
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
