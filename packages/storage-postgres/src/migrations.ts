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
];
