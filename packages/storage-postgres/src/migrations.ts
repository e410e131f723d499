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
  {
    version: 5,
    name: 'tenant management, customers, user activation',
    sql: `
-- ThingsBoard's contact fields on tenants. No tenant may take ThingsBoard's null id.
ALTER TABLE tenant ADD COLUMN email text;
ALTER TABLE tenant ADD COLUMN phone text;
ALTER TABLE tenant ADD COLUMN country text;
ALTER TABLE tenant ADD COLUMN state text;
ALTER TABLE tenant ADD COLUMN city text;
ALTER TABLE tenant ADD COLUMN address text;
ALTER TABLE tenant ADD COLUMN address2 text;
ALTER TABLE tenant ADD COLUMN zip text;
ALTER TABLE tenant ADD COLUMN additional_info jsonb;
ALTER TABLE tenant ADD CONSTRAINT tenant_not_null_id_chk CHECK (id <> '13814000-1dd2-11b2-8080-808080808080');

CREATE TABLE customer (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  title text NOT NULL,
  email text,
  phone text,
  country text,
  state text,
  city text,
  address text,
  address2 text,
  zip text,
  additional_info jsonb,
  created_time bigint NOT NULL,
  CONSTRAINT customer_title_unq UNIQUE (tenant_id, title),
  -- The target of the (tenant_id, customer_id) foreign keys below.
  CONSTRAINT customer_tenant_id_unq UNIQUE (tenant_id, id)
);
CREATE INDEX customer_tenant_created_idx ON customer (tenant_id, created_time);

-- A device can only be assigned to a customer of its own tenant: the database enforces it.
ALTER TABLE device ADD COLUMN customer_id uuid;
ALTER TABLE device ADD CONSTRAINT device_customer_fk FOREIGN KEY (tenant_id, customer_id) REFERENCES customer (tenant_id, id);
CREATE INDEX device_customer_created_idx ON device (tenant_id, customer_id, created_time);

-- The system administrator has no tenant: NULL, so no tenant-scoped query can match it (ThingsBoard
-- keeps its null id there; the API shows that id). Customer users belong to a customer of their tenant.
ALTER TABLE tb_user ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE tb_user ADD COLUMN customer_id uuid;
ALTER TABLE tb_user ADD COLUMN enabled boolean NOT NULL DEFAULT true;
-- SHA-256 of the activation token (the token itself only ever travels in the link).
ALTER TABLE tb_user ADD COLUMN activate_token_hash text;
ALTER TABLE tb_user ADD COLUMN activate_token_expiry bigint;
ALTER TABLE tb_user ADD CONSTRAINT tb_user_sysadmin_tenant_chk CHECK ((authority = 'SYS_ADMIN') = (tenant_id IS NULL));
ALTER TABLE tb_user ADD CONSTRAINT tb_user_customer_chk CHECK ((authority = 'CUSTOMER_USER') = (customer_id IS NOT NULL));
ALTER TABLE tb_user ADD CONSTRAINT tb_user_customer_fk FOREIGN KEY (tenant_id, customer_id) REFERENCES customer (tenant_id, id);
CREATE UNIQUE INDEX tb_user_activate_token_unq ON tb_user (activate_token_hash);
-- Nothing a tenant owns may carry the system administrator's null id as its tenant (defence in
-- depth: a request of the system administrator that reached a tenant-scoped write fails here).
ALTER TABLE device ADD CONSTRAINT device_tenant_not_null_id_chk CHECK (tenant_id <> '13814000-1dd2-11b2-8080-808080808080');
ALTER TABLE customer ADD CONSTRAINT customer_tenant_not_null_id_chk CHECK (tenant_id <> '13814000-1dd2-11b2-8080-808080808080');
ALTER TABLE rule_chain ADD CONSTRAINT rule_chain_tenant_not_null_id_chk CHECK (tenant_id <> '13814000-1dd2-11b2-8080-808080808080');
ALTER TABLE dashboard ADD CONSTRAINT dashboard_tenant_not_null_id_chk CHECK (tenant_id <> '13814000-1dd2-11b2-8080-808080808080');
ALTER TABLE alarm ADD CONSTRAINT alarm_tenant_not_null_id_chk CHECK (tenant_id <> '13814000-1dd2-11b2-8080-808080808080');
CREATE INDEX tb_user_tenant_created_idx ON tb_user (tenant_id, created_time);
`,
  },
  {
    version: 6,
    name: 'rule chain version (optimistic lock)',
    sql: `
-- ThingsBoard's optimistic lock on a rule chain: the editor saves with the version it read, and a
-- stale one is refused (409) instead of silently overwriting another tab's save.
ALTER TABLE rule_chain ADD COLUMN version bigint NOT NULL DEFAULT 1;
`,
  },
  {
    version: 7,
    name: 'tenant profiles (per-tenant limits)',
    sql: `
-- ThingsBoard's tenant profiles, minimal: the limits a tenant is held to. profile_data holds
-- {"configuration": {<limit>: <value>, ...}} with only the overrides of the global defaults.
CREATE TABLE tenant_profile (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  description text,
  is_default boolean NOT NULL DEFAULT false,
  profile_data jsonb NOT NULL,
  created_time bigint NOT NULL,
  CONSTRAINT tenant_profile_name_unq UNIQUE (name)
);
-- At most one default profile.
CREATE UNIQUE INDEX tenant_profile_default_unq ON tenant_profile (is_default) WHERE is_default;
INSERT INTO tenant_profile (id, name, description, is_default, profile_data, created_time)
  VALUES (gen_random_uuid(), 'Default', 'Default tenant profile', true, '{"configuration":{}}', (extract(epoch from now()) * 1000)::bigint);
-- Every tenant has a profile; the existing ones get the default. A profile in use cannot be deleted.
ALTER TABLE tenant ADD COLUMN tenant_profile_id uuid;
UPDATE tenant SET tenant_profile_id = (SELECT id FROM tenant_profile WHERE is_default);
ALTER TABLE tenant ALTER COLUMN tenant_profile_id SET NOT NULL;
ALTER TABLE tenant ADD CONSTRAINT tenant_profile_fk FOREIGN KEY (tenant_profile_id) REFERENCES tenant_profile (id);
CREATE INDEX tenant_profile_id_idx ON tenant (tenant_profile_id);
`,
  },
  {
    version: 8,
    name: 'device profiles',
    sql: `
-- ThingsBoard's device profiles, per tenant. profile_data keeps ThingsBoard's JSON (configuration,
-- transportConfiguration, provisionConfiguration, alarms). A profile's rule chain must be a chain
-- of the same tenant: the database enforces it, and refuses deleting a chain a profile names.
ALTER TABLE rule_chain ADD CONSTRAINT rule_chain_tenant_id_unq UNIQUE (tenant_id, id);
CREATE TABLE device_profile (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL,
  name text NOT NULL,
  description text,
  image text,
  type text NOT NULL DEFAULT 'DEFAULT',
  transport_type text NOT NULL DEFAULT 'DEFAULT',
  provision_type text NOT NULL DEFAULT 'DISABLED',
  default_rule_chain_id uuid,
  default_dashboard_id uuid,
  default_queue_name text,
  provision_device_key text,
  is_default boolean NOT NULL DEFAULT false,
  profile_data jsonb NOT NULL,
  created_time bigint NOT NULL,
  CONSTRAINT device_profile_name_unq UNIQUE (tenant_id, name),
  -- The target of the (tenant_id, device_profile_id) foreign key of device.
  CONSTRAINT device_profile_tenant_id_unq UNIQUE (tenant_id, id),
  CONSTRAINT device_profile_rule_chain_fk FOREIGN KEY (tenant_id, default_rule_chain_id) REFERENCES rule_chain (tenant_id, id),
  CONSTRAINT device_profile_tenant_not_null_id_chk CHECK (tenant_id <> '13814000-1dd2-11b2-8080-808080808080')
);
-- A device finds its profile by the key when provisioning: unique over every tenant.
CREATE UNIQUE INDEX device_profile_provision_key_unq ON device_profile (provision_device_key) WHERE provision_device_key IS NOT NULL;
-- At most one default profile per tenant.
CREATE UNIQUE INDEX device_profile_default_unq ON device_profile (tenant_id) WHERE is_default;
CREATE INDEX device_profile_tenant_created_idx ON device_profile (tenant_id, created_time);

-- Every tenant (and every tenant id devices carry) gets its default profile "default"; the other
-- device types of a tenant become profiles of that name (as ThingsBoard's upgrade to profiles did),
-- so a device's type stays its profile's name.
INSERT INTO device_profile (id, tenant_id, name, description, is_default, profile_data, created_time)
  SELECT gen_random_uuid(), t.tenant_id, 'default', 'Default device profile', true,
         '{"configuration":{"type":"DEFAULT"},"transportConfiguration":{"type":"DEFAULT"},"provisionConfiguration":{"type":"DISABLED","provisionDeviceSecret":null},"alarms":null}',
         (extract(epoch from now()) * 1000)::bigint
    FROM (SELECT id AS tenant_id FROM tenant UNION SELECT tenant_id FROM device) t;
INSERT INTO device_profile (id, tenant_id, name, description, is_default, profile_data, created_time)
  SELECT gen_random_uuid(), d.tenant_id, d.type, NULL, false,
         '{"configuration":{"type":"DEFAULT"},"transportConfiguration":{"type":"DEFAULT"},"provisionConfiguration":{"type":"DISABLED","provisionDeviceSecret":null},"alarms":null}',
         (extract(epoch from now()) * 1000)::bigint
    FROM (SELECT DISTINCT tenant_id, type FROM device WHERE type <> 'default') d;
ALTER TABLE device ADD COLUMN device_profile_id uuid;
UPDATE device SET device_profile_id = p.id FROM device_profile p WHERE p.tenant_id = device.tenant_id AND p.name = device.type;
ALTER TABLE device ALTER COLUMN device_profile_id SET NOT NULL;
ALTER TABLE device ADD CONSTRAINT device_profile_fk FOREIGN KEY (tenant_id, device_profile_id) REFERENCES device_profile (tenant_id, id);
CREATE INDEX device_device_profile_idx ON device (tenant_id, device_profile_id);
`,
  },
  {
    version: 9,
    name: 'mqtt basic user names',
    sql: `
-- The user name of MQTT basic credentials, indexed: a user name of one tenant's device is refused to
-- another tenant (MQTT tries {clientId, userName} before the user name alone). Written by the
-- repository; existing rows backfilled from their JSON (a value that is not JSON keeps NULL).
ALTER TABLE device_credentials ADD COLUMN mqtt_user_name text;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT id, credentials_value FROM device_credentials WHERE credentials_type = 'MQTT_BASIC' AND credentials_value IS NOT NULL LOOP
    BEGIN
      UPDATE device_credentials SET mqtt_user_name = NULLIF(r.credentials_value::jsonb ->> 'userName', '') WHERE id = r.id;
    EXCEPTION WHEN others THEN
      NULL;
    END;
  END LOOP;
END $$;
CREATE INDEX device_credentials_mqtt_user_name_idx ON device_credentials (mqtt_user_name) WHERE mqtt_user_name IS NOT NULL;
`,
  },
  {
    version: 10,
    name: 'rule node state',
    sql: `
-- ThingsBoard's rule_node_state: what a rule node keeps of an entity across restarts (the device
-- profile node's alarm rule progress). Keyed by tenant too, so one tenant never reads another's.
-- rule_node_id is the rule engine's node id (<chain id>:<index>), not a uuid.
CREATE TABLE rule_node_state (
  tenant_id uuid NOT NULL,
  rule_node_id text NOT NULL,
  entity_id uuid NOT NULL,
  state jsonb NOT NULL,
  updated_time bigint NOT NULL,
  PRIMARY KEY (tenant_id, rule_node_id, entity_id)
);
CREATE INDEX rule_node_state_entity_idx ON rule_node_state (tenant_id, entity_id);
`,
  },
];
