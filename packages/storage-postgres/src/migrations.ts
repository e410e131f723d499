/**
 * The schema, as numbered migrations. Append only: a released migration is never edited, a change
 * is a new entry with the next version. Every statement must be accepted by PostgreSQL 15 and by
 * PGlite (PostgreSQL 18), because both back ends run exactly this list.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
-- Tenant ids are not foreign keys anywhere: like ThingsBoard, a system administrator belongs to a
-- tenant id that has no tenant row.
CREATE TABLE tenant (
  id uuid PRIMARY KEY,
  title text NOT NULL,
  created_time bigint NOT NULL
);

CREATE TABLE tb_user (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  email text NOT NULL,
  authority text NOT NULL,
  password_hash text NOT NULL,
  first_name text,
  last_name text,
  created_time bigint NOT NULL
);
-- Login is case-insensitive, so uniqueness is too.
CREATE UNIQUE INDEX tb_user_email_unq ON tb_user (lower(email));

CREATE TABLE device (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  name text NOT NULL,
  type text NOT NULL,
  label text,
  additional_info jsonb,
  created_time bigint NOT NULL,
  CONSTRAINT device_name_unq UNIQUE (tenant_id, name)
);
CREATE INDEX device_tenant_created_idx ON device (tenant_id, created_time);

CREATE TABLE device_credentials (
  id uuid PRIMARY KEY,
  device_id uuid NOT NULL REFERENCES device (id) ON DELETE CASCADE,
  credentials_type text NOT NULL,
  credentials_id text NOT NULL,
  credentials_value text,
  created_time bigint NOT NULL,
  CONSTRAINT device_credentials_device_unq UNIQUE (device_id),
  CONSTRAINT device_credentials_id_unq UNIQUE (credentials_id)
);

-- One typed column per value type (ThingsBoard's layout): exactly one of them is set per row.
CREATE TABLE attribute_kv (
  entity_id uuid NOT NULL,
  scope text NOT NULL,
  key text NOT NULL,
  bool_v boolean,
  long_v bigint,
  dbl_v double precision,
  str_v text,
  json_v jsonb,
  last_update_ts bigint NOT NULL,
  PRIMARY KEY (entity_id, scope, key)
);

CREATE TABLE ts_kv (
  entity_id uuid NOT NULL,
  key text NOT NULL,
  ts bigint NOT NULL,
  bool_v boolean,
  long_v bigint,
  dbl_v double precision,
  str_v text,
  json_v jsonb,
  PRIMARY KEY (entity_id, key, ts)
);

CREATE TABLE ts_kv_latest (
  entity_id uuid NOT NULL,
  key text NOT NULL,
  ts bigint NOT NULL,
  bool_v boolean,
  long_v bigint,
  dbl_v double precision,
  str_v text,
  json_v jsonb,
  PRIMARY KEY (entity_id, key)
);

CREATE TABLE rule_chain (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  name text NOT NULL,
  root boolean NOT NULL DEFAULT false,
  debug_mode boolean NOT NULL DEFAULT false,
  metadata jsonb NOT NULL,
  created_time bigint NOT NULL,
  updated_time bigint NOT NULL
);
CREATE INDEX rule_chain_tenant_idx ON rule_chain (tenant_id, created_time);
-- At most one root chain per tenant, enforced by the database rather than by care in the code.
CREATE UNIQUE INDEX rule_chain_root_unq ON rule_chain (tenant_id) WHERE root;
`,
  },
  {
    version: 2,
    name: 'alarms, rule node debug events, rule chain configuration',
    sql: `
-- ThingsBoard's ruleChain.configuration and additionalInfo, kept beside the metadata.
ALTER TABLE rule_chain ADD COLUMN configuration jsonb;
ALTER TABLE rule_chain ADD COLUMN additional_info jsonb;

CREATE TABLE alarm (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  type text NOT NULL,
  originator_type text NOT NULL,
  originator_id uuid NOT NULL,
  severity text NOT NULL,
  acknowledged boolean NOT NULL DEFAULT false,
  cleared boolean NOT NULL DEFAULT false,
  start_ts bigint NOT NULL,
  end_ts bigint NOT NULL,
  ack_ts bigint NOT NULL DEFAULT 0,
  clear_ts bigint NOT NULL DEFAULT 0,
  details jsonb,
  created_time bigint NOT NULL
);
-- One active (not cleared) alarm per originator and type, enforced by the database: concurrent
-- creates meet in INSERT .. ON CONFLICT on this index instead of racing a SELECT.
CREATE UNIQUE INDEX alarm_active_unq ON alarm (tenant_id, originator_id, type) WHERE NOT cleared;
CREATE INDEX alarm_originator_idx ON alarm (originator_id, created_time);
CREATE INDEX alarm_tenant_idx ON alarm (tenant_id, created_time);

-- ThingsBoard's DEBUG_RULE_NODE events. The identity id orders events of the same ms as written.
CREATE TABLE rule_node_debug_event (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL,
  chain_id uuid NOT NULL,
  node_index integer NOT NULL,
  node_name text NOT NULL,
  node_type text NOT NULL,
  ts bigint NOT NULL,
  direction text NOT NULL,
  relation text,
  msg_id text NOT NULL,
  msg_type text NOT NULL,
  originator_type text NOT NULL,
  originator_id text NOT NULL,
  data jsonb,
  metadata jsonb NOT NULL,
  error text,
  duration_ms double precision
);
CREATE INDEX rule_node_debug_event_node_idx ON rule_node_debug_event (chain_id, node_index, ts, id);
CREATE INDEX rule_node_debug_event_ts_idx ON rule_node_debug_event (ts);
`,
  },
  {
    version: 3,
    name: 'dashboards',
    sql: `
-- ThingsBoard's dashboards: the configuration (widgets, states, entity aliases, time window,
-- settings) is one JSON document, read and written whole; lists read only the other columns.
CREATE TABLE dashboard (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  title text NOT NULL,
  description text,
  configuration jsonb NOT NULL,
  created_time bigint NOT NULL
);
CREATE INDEX dashboard_tenant_created_idx ON dashboard (tenant_id, created_time);
`,
  },
  {
    version: 4,
    name: 'login sessions (refresh token families) and password reset tokens',
    sql: `
-- One row per login (an OAuth refresh token family): only refresh_jti may still be used; a refresh
-- token of the family with another jti is a replay and revokes the row. Apart from tb_user on purpose.
CREATE TABLE auth_session (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL,
  refresh_jti uuid NOT NULL,
  created_time bigint NOT NULL,
  updated_time bigint NOT NULL,
  expires_time bigint NOT NULL,
  revoked_time bigint,
  revoked_reason text
);
CREATE INDEX auth_session_user_idx ON auth_session (user_id) WHERE revoked_time IS NULL;
CREATE INDEX auth_session_expires_idx ON auth_session (expires_time);

-- Password reset tokens by their SHA-256 (hex): one-time, expiring.
CREATE TABLE password_reset_token (
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL,
  created_time bigint NOT NULL,
  expires_time bigint NOT NULL,
  used_time bigint
);
CREATE INDEX password_reset_token_user_idx ON password_reset_token (user_id);
`,
  },
];
