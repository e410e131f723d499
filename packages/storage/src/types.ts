import type { TenantLimitName } from '@rivulet/core';
import type { AttributeKv, AttributeScope, AttributeWrite, JsonObject, JsonValue, KvValue, TsKv, TsPoint } from '@rivulet/core';

/** ThingsBoard's page request: `pageSize`, `page` (0-based), `textSearch`, `sortProperty`, `sortOrder`. */
export interface PageQuery {
  pageSize: number;
  page: number;
  textSearch?: string | undefined;
  sortProperty?: string | undefined;
  sortOrder?: 'ASC' | 'DESC' | undefined;
}

/** ThingsBoard's page answer. */
export interface Page<T> {
  data: T[];
  totalPages: number;
  totalElements: number;
  hasNext: boolean;
}

/**
 * ThingsBoard's null entity id (EntityId.NULL_UUID): the tenant id of the system administrator and
 * the customer id of an unassigned device, as ThingsBoard serialises them. Storage keeps NULL in
 * the database instead, so no tenant-scoped query (`tenant_id = $1`) can ever match the system
 * administrator; no tenant can be created with this id.
 */
export const NULL_ENTITY_ID = '13814000-1dd2-11b2-8080-808080808080';

/** ThingsBoard's contact fields, shared by tenants and customers. */
export interface ContactInfo {
  email: string | null;
  phone: string | null;
  country: string | null;
  state: string | null;
  city: string | null;
  address: string | null;
  address2: string | null;
  zip: string | null;
}

export type ContactInput = { [K in keyof ContactInfo]?: string | null | undefined };

export interface Tenant extends ContactInfo {
  id: string;
  title: string;
  additionalInfo: JsonObject | null;
  /** The tenant profile whose limits the tenant is held to (ThingsBoard's tenantProfileId). */
  tenantProfileId: string;
  createdTime: number;
}

export type TenantInput = ContactInput & {
  title: string;
  additionalInfo?: JsonObject | null | undefined;
  /** Create: left out means the default profile. Update: left out keeps the current one. */
  tenantProfileId?: string | undefined;
};

/**
 * The overrides a tenant profile makes of the global limits (TenantLimits' fields); a field left
 * out means the global default from the server's configuration.
 */
export type TenantLimitOverrides = Partial<Record<TenantLimitName, number>>;

/** ThingsBoard's TenantProfile, minimal: limits only (profileData.configuration). */
export interface TenantProfile {
  id: string;
  name: string;
  description: string | null;
  /** The profile new tenants get; exactly one profile is the default. */
  isDefault: boolean;
  /** ThingsBoard's profileData.configuration, the overrides only. */
  configuration: TenantLimitOverrides;
  createdTime: number;
}

export interface TenantProfileInput {
  name: string;
  description?: string | null | undefined;
  /** true makes this the default profile (the previous default stops being one); false never un-defaults the default. */
  isDefault?: boolean | undefined;
  configuration?: TenantLimitOverrides | undefined;
}

export interface TenantProfileRepository {
  /** ConflictError for a name in use; BadRequestError for an empty name. */
  create(input: TenantProfileInput & { id?: string }): Promise<TenantProfile>;
  /** Replaces name, description and configuration (createdTime kept); null when there is no such profile. */
  update(id: string, input: TenantProfileInput): Promise<TenantProfile | null>;
  get(id: string): Promise<TenantProfile | null>;
  /** The default profile; null only on a database nobody has bootstrapped (ensureDefault creates it). */
  getDefault(): Promise<TenantProfile | null>;
  /** The default profile, created (name "Default", no overrides) when there is none. */
  ensureDefault(): Promise<TenantProfile>;
  /** Every profile (they are few: the limits source loads them all). */
  list(): Promise<TenantProfile[]>;
  /** Text search on name; sortProperty: name|description|isDefault|createdTime, default createdTime DESC. */
  page(page: PageQuery): Promise<Page<TenantProfile>>;
  /** Tenants using the profile. */
  countTenants(id: string): Promise<number>;
  /**
   * 'deleted', 'not-found', 'default' (the default profile is never deleted) or 'in-use' (tenants
   * use it; checked in the same transaction as the delete).
   */
  delete(id: string): Promise<'deleted' | 'not-found' | 'default' | 'in-use'>;
}

/** Every tenant and its profile, for the limits source's in-memory map. */
export interface TenantProfileAssignment {
  tenantId: string;
  tenantProfileId: string;
}

/** A tenant's customer (ThingsBoard's Customer): devices are assigned to it, its users see only those. */
export interface Customer extends ContactInfo {
  id: string;
  tenantId: string;
  title: string;
  additionalInfo: JsonObject | null;
  createdTime: number;
}

export type CustomerInput = ContactInput & { title: string; additionalInfo?: JsonObject | null | undefined };

export type Authority = 'SYS_ADMIN' | 'TENANT_ADMIN' | 'CUSTOMER_USER';

export interface User {
  id: string;
  /** NULL_ENTITY_ID for the system administrator (stored as NULL). */
  tenantId: string;
  /** The customer of a CUSTOMER_USER; null for administrators. */
  customerId: string | null;
  email: string;
  authority: Authority;
  firstName: string | null;
  lastName: string | null;
  /** ThingsBoard's userCredentials.enabled: false until the user activated the account (set a password). */
  enabled: boolean;
  createdTime: number;
}

export interface Device {
  id: string;
  tenantId: string;
  /** The customer the device is assigned to; null when unassigned. */
  customerId: string | null;
  name: string;
  /** Always the name of its profile (ThingsBoard's device type). */
  type: string;
  /** The device profile (of the same tenant); its rule chain, if any, handles the device's messages. */
  deviceProfileId: string;
  label: string | null;
  additionalInfo: JsonObject | null;
  createdTime: number;
}

/** ThingsBoard's DeviceInfo: the device with its customer's title, its profile's name and whether it is active. */
export interface DeviceInfo extends Device {
  customerTitle: string | null;
  /** Rivulet has no public customers: always false (ThingsBoard's field kept). */
  customerIsPublic: boolean;
  deviceProfileName: string;
  /** The device state's server attribute `active` (false when never reported). */
  active: boolean;
}

/** Filters of the device lists (ThingsBoard's /api/tenant/devices and /api/tenant/deviceInfos parameters). */
export interface DeviceFilter {
  type?: string | undefined;
  deviceProfileId?: string | undefined;
  /** Only the devices assigned to this customer. */
  customerId?: string | undefined;
  active?: boolean | undefined;
}

/** ThingsBoard's DeviceProfileProvisionType (X509_CERTIFICATE_CHAIN is not offered). */
export type DeviceProfileProvisionType = 'DISABLED' | 'ALLOW_CREATE_NEW_DEVICES' | 'CHECK_PRE_PROVISIONED_DEVICES';

/** ThingsBoard's DeviceTransportType. */
export type DeviceTransportType = 'DEFAULT' | 'MQTT' | 'COAP' | 'LWM2M' | 'SNMP';

/**
 * ThingsBoard's DeviceProfile. Every tenant has exactly one default profile (created with the
 * tenant, named "default"); a device without an explicit profile gets it. `profileData` is kept in
 * ThingsBoard's JSON shape: `configuration`, `transportConfiguration`, `provisionConfiguration`
 * (`{type, provisionDeviceSecret}`) and `alarms` (DeviceProfileAlarm[]: id, alarmType,
 * createRules {severity: AlarmRule}, clearRule, propagate...), evaluated by the device profile node.
 */
export interface DeviceProfile {
  id: string;
  tenantId: string;
  name: string;
  description: string | null;
  image: string | null;
  type: 'DEFAULT';
  transportType: DeviceTransportType;
  provisionType: DeviceProfileProvisionType;
  /** The rule chain the profile's devices' messages go to; null: the tenant's root chain. */
  defaultRuleChainId: string | null;
  defaultDashboardId: string | null;
  /** ThingsBoard's queue name; kept, Rivulet has one rule-engine queue. */
  defaultQueueName: string | null;
  /** Unique over all tenants when set (a device finds its profile by it when provisioning). */
  provisionDeviceKey: string | null;
  isDefault: boolean;
  profileData: JsonObject;
  createdTime: number;
}

export interface DeviceProfileInput {
  name: string;
  description?: string | null | undefined;
  image?: string | null | undefined;
  transportType?: DeviceTransportType | undefined;
  provisionType?: DeviceProfileProvisionType | undefined;
  defaultRuleChainId?: string | null | undefined;
  defaultDashboardId?: string | null | undefined;
  defaultQueueName?: string | null | undefined;
  provisionDeviceKey?: string | null | undefined;
  /** true makes this the tenant's default profile (the previous default stops being one). */
  isDefault?: boolean | undefined;
  profileData?: JsonObject | undefined;
}

export interface DeviceProfileRepository {
  /** ConflictError for a name the tenant uses or a provisionDeviceKey in use; BadRequestError for an empty name. */
  create(tenantId: string, input: DeviceProfileInput & { id?: string }): Promise<DeviceProfile>;
  /** Replaces every field but id, tenantId and createdTime; null when the tenant has no such profile. */
  update(tenantId: string, id: string, input: DeviceProfileInput): Promise<DeviceProfile | null>;
  get(tenantId: string, id: string): Promise<DeviceProfile | null>;
  /** The tenant's default profile, created ("default") when there is none. */
  ensureDefault(tenantId: string): Promise<DeviceProfile>;
  /** The profile whose provisionDeviceKey this is, in any tenant (provisioning); null when none. */
  findByProvisionKey(provisionDeviceKey: string): Promise<DeviceProfile | null>;
  /** Text search on name; sortProperty: name|type|transportType|description|isDefault|createdTime, default createdTime DESC. */
  page(tenantId: string, page: PageQuery, filter?: { transportType?: DeviceTransportType }): Promise<Page<DeviceProfile>>;
  /** 'deleted', 'not-found', 'default' (never deleted) or 'in-use' (devices use it). */
  delete(tenantId: string, id: string): Promise<'deleted' | 'not-found' | 'default' | 'in-use'>;
  /** Makes the profile the tenant's only default; null when the tenant has no such profile. */
  setDefault(tenantId: string, id: string): Promise<DeviceProfile | null>;
  /** The tenant's profile of that name; null when none. */
  findByName(tenantId: string, name: string): Promise<DeviceProfile | null>;
}

export type CredentialsType = 'ACCESS_TOKEN' | 'MQTT_BASIC';

export interface DeviceCredentials {
  id: string;
  deviceId: string;
  credentialsType: CredentialsType;
  /** ACCESS_TOKEN: the token. MQTT_BASIC: a lookup id derived from clientId/username. */
  credentialsId: string;
  /** MQTT_BASIC: JSON {clientId, userName, password}; ACCESS_TOKEN: null. */
  credentialsValue: string | null;
  createdTime: number;
}

export interface NewDevice {
  tenantId: string;
  name: string;
  /**
   * ThingsBoard's device type: without `deviceProfileId`, the device gets the tenant's profile of
   * this name, created when there is none (DeviceProfileService.findOrCreateDeviceProfile); neither
   * given: the tenant's default profile. Ignored with `deviceProfileId` (type = the profile's name).
   */
  type?: string | undefined;
  /** A profile of the device's tenant; NotFoundError for any other id. */
  deviceProfileId?: string | undefined;
  label?: string | null | undefined;
  additionalInfo?: JsonObject | null | undefined;
}

/** What deleting a tenant removed: the ids of its devices (caches and sessions drop them) and rows per table. */
export interface TenantDeletion {
  deviceIds: string[];
  rows: Record<string, number>;
}

export interface TenantRepository {
  /**
   * Creates the tenant with its default device profile ("default"), in one transaction.
   * BadRequestError for the NULL_ENTITY_ID or an empty title; ConflictError for an id in use;
   * NotFoundError for a tenantProfileId of no profile (also on update).
   */
  create(input: TenantInput & { id?: string }): Promise<Tenant>;
  get(id: string): Promise<Tenant | null>;
  list(): Promise<Tenant[]>;
  /** The profile of every tenant (cheaper than list() for the limits source). */
  profileAssignments(): Promise<TenantProfileAssignment[]>;
  /** Text search on title; sortProperty: title|email|country|createdTime, default createdTime DESC. */
  page(page: PageQuery): Promise<Page<Tenant>>;
  /** Replaces title, contact fields and additionalInfo (createdTime kept); null when there is no such tenant. */
  update(id: string, input: TenantInput): Promise<Tenant | null>;
  /**
   * Deletes the tenant and everything it owns, in one transaction: devices with their credentials,
   * attributes, time series and latest values, device profiles, rule chains, debug events, dashboards, alarms,
   * customers and users. null when there is no such tenant.
   */
  delete(id: string): Promise<TenantDeletion | null>;
}

export interface NewUser {
  /** NULL_ENTITY_ID for a SYS_ADMIN (and only then). */
  tenantId: string;
  /** Required for a CUSTOMER_USER (a customer of the same tenant), null otherwise. */
  customerId?: string | null | undefined;
  email: string;
  authority: Authority;
  passwordHash: string;
  firstName?: string | null | undefined;
  lastName?: string | null | undefined;
  /** Default true; false for a user who must activate the account first. */
  enabled?: boolean | undefined;
}

export interface UserRepository {
  /**
   * BadRequestError when tenant and authority do not fit (a SYS_ADMIN has the NULL_ENTITY_ID tenant,
   * nobody else has), or a CUSTOMER_USER names no customer of its tenant; ConflictError for a taken e-mail.
   */
  create(input: NewUser): Promise<User>;
  get(id: string): Promise<User | null>;
  /** Case-insensitive e-mail lookup, with the stored hash for login. */
  findByEmail(email: string): Promise<{ user: User; passwordHash: string } | null>;
  /** All users, or those of one authority. */
  count(authority?: Authority): Promise<number>;
  /** A tenant's users of one authority (TENANT_ADMIN: ThingsBoard's tenant admins), or one customer's users. */
  list(filter: { tenantId: string; authority?: Authority; customerId?: string }, page: PageQuery): Promise<Page<User>>;
  /** The user within the tenant (SYS_ADMIN: tenantId NULL_ENTITY_ID); null otherwise. */
  getInTenant(tenantId: string, id: string): Promise<User | null>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Changes first and last name of a user of the tenant (SYS_ADMIN: tenantId NULL_ENTITY_ID); null when there is none. */
  updateNames(tenantId: string, id: string, names: { firstName: string | null; lastName: string | null }): Promise<User | null>;
  /** Sets the password hash and enables the user; clears any activation token. False when there is no such user. */
  setPassword(id: string, passwordHash: string): Promise<boolean>;
  /** Stores the SHA-256 of a new activation token (the previous one stops working). */
  setActivationToken(id: string, tokenHash: string, expiresAt: number): Promise<boolean>;
  /**
   * Activation: the user holding this token hash, if it has not expired at `now`, gets the password
   * and is enabled; the token is spent (one use). null when no such unexpired token.
   */
  activate(tokenHash: string, passwordHash: string, now: number): Promise<User | null>;
}

export interface CustomerRepository {
  /** ConflictError when the tenant has a customer of that title; BadRequestError for an empty title. */
  create(tenantId: string, input: CustomerInput): Promise<Customer>;
  update(tenantId: string, id: string, input: CustomerInput): Promise<Customer | null>;
  get(tenantId: string, id: string): Promise<Customer | null>;
  /** Text search on title; sortProperty: title|email|country|city|createdTime, default createdTime DESC. */
  list(tenantId: string, page: PageQuery): Promise<Page<Customer>>;
  /** Deletes the customer and its users, and unassigns its devices (as ThingsBoard), in one transaction. */
  delete(tenantId: string, id: string): Promise<boolean>;
}

export interface DeviceRepository {
  /**
   * Creates the device and an ACCESS_TOKEN credential (generated unless given).
   * ConflictError when the tenant already has a device of that name, or the token is taken.
   * With `maxDevices` (> 0), TenantLimitError (maxDevices) when the tenant already has that many devices: the
   * count and the insert are one transaction, serialised per tenant, so concurrent creates cannot
   * pass the limit together.
   */
  create(input: NewDevice, accessToken?: string, options?: { maxDevices?: number | undefined }): Promise<{ device: Device; credentials: DeviceCredentials }>;
  /** Devices of the tenant. */
  count(tenantId: string): Promise<number>;
  /**
   * A `deviceProfileId` moves the device to that profile of its tenant (NotFoundError for any other);
   * a `type` without it moves the device to the profile of that name (created when there is none).
   */
  update(tenantId: string, id: string, patch: Partial<Pick<Device, 'name' | 'type' | 'deviceProfileId' | 'label' | 'additionalInfo'>>): Promise<Device | null>;
  get(tenantId: string, id: string): Promise<Device | null>;
  findByName(tenantId: string, name: string): Promise<Device | null>;
  /**
   * Text search is a case-insensitive substring match on name (LIKE wildcards taken literally);
   * sortProperty: name|type|label|createdTime, default createdTime DESC (ThingsBoard's default).
   * BadRequestError for another sortProperty or a pageSize < 1.
   */
  list(tenantId: string, page: PageQuery, filter?: DeviceFilter): Promise<Page<Device>>;
  /**
   * As `list`, each device with its customer's title, profile name and `active` state; also sorts by
   * customerTitle and deviceProfileName.
   */
  listInfos(tenantId: string, page: PageQuery, filter?: DeviceFilter): Promise<Page<DeviceInfo>>;
  getInfo(tenantId: string, id: string): Promise<DeviceInfo | null>;
  /** Deletes the device with its credentials, attributes and time series. */
  delete(tenantId: string, id: string): Promise<boolean>;
  /**
   * Assigns the device to a customer of the same tenant, or unassigns it (null). null when the tenant
   * has no such device; NotFoundError when it has no such customer.
   */
  assignToCustomer(tenantId: string, id: string, customerId: string | null): Promise<Device | null>;
  /** The devices assigned to one customer; same text search and sorting as `list`. */
  listByCustomer(tenantId: string, customerId: string, page: PageQuery): Promise<Page<Device>>;
  getCredentials(deviceId: string): Promise<DeviceCredentials | null>;
  /**
   * Replaces the device's credentials (one set per device; its id and createdTime stay).
   * ConflictError when the credentialsId is used by another device, NotFoundError when there is no such device.
   */
  updateCredentials(deviceId: string, input: { credentialsType: CredentialsType; credentialsId: string; credentialsValue?: string | null }): Promise<DeviceCredentials>;
  /** Device authentication: the device holding these credentials. */
  findByCredentials(credentialsType: CredentialsType, credentialsId: string): Promise<Device | null>;
}

export interface AttributeRepository {
  /**
   * Batch upsert; the newest write per (entity, scope, key) wins by lastUpdateTs, also against the
   * stored value: a write older than what is stored is ignored. Equal lastUpdateTs: the later write wins.
   */
  save(items: ReadonlyArray<AttributeWrite>): Promise<void>;
  /**
   * Writes the attribute only if the entity has none of that scope and key, atomically across
   * processes: of concurrent calls for one key exactly one gets true (a marker such as
   * provisionState, set once).
   */
  saveIfAbsent(item: AttributeWrite): Promise<boolean>;
  /** All attributes of the scope, or only the given keys (missing keys are left out). */
  find(entityId: string, scope: AttributeScope, keys?: readonly string[]): Promise<AttributeKv[]>;
  findKeys(entityId: string, scope?: AttributeScope): Promise<string[]>;
  delete(entityId: string, scope: AttributeScope, keys: readonly string[]): Promise<number>;
}

export type Aggregation = 'NONE' | 'AVG' | 'MIN' | 'MAX' | 'SUM' | 'COUNT';

export interface HistoryQuery {
  keys: readonly string[];
  startTs: number;
  endTs: number;
  /** Points per key at most (NONE), default 100. */
  limit?: number;
  /** By ts. Default DESC for NONE (newest first), ASC for aggregated buckets (as ThingsBoard returns them). */
  orderBy?: 'ASC' | 'DESC';
  agg?: Aggregation;
  /** Bucket width in ms for aggregation; default: the whole range as one bucket. */
  interval?: number;
}

/** What a time-series delete does to the latest value (ThingsBoard's deleteLatest, rewriteLatestIfDeleted). */
export interface TsDeleteOptions {
  readonly deleteLatest?: boolean;
  readonly rewriteLatest?: boolean;
}

export interface TimeseriesRepository {
  /**
   * Idempotent batch write keyed on (entity, key, ts): writing the same point again replaces it,
   * never adds a second one. Updates the latest value when the point is not older than it.
   */
  save(points: ReadonlyArray<TsPoint>): Promise<void>;
  findLatest(entityId: string, keys?: readonly string[]): Promise<TsKv[]>;
  findKeys(entityId: string): Promise<string[]>;
  /**
   * History per key, ts within [startTs, endTs); keys without points in the range are left out.
   * Aggregated buckets [startTs + i*interval, startTs + (i+1)*interval) carry ts = bucket start +
   * interval/2 (ThingsBoard's convention) and a number value. AVG/MIN/MAX/SUM read long and double
   * values only (a bucket without any is left out); COUNT counts values of every type.
   */
  findHistory(entityId: string, query: HistoryQuery): Promise<Record<string, TsKv[]>>;
  /**
   * Deletes points in [startTs, endTs). A latest value inside the range is deleted too (unless
   * `deleteLatest` is false) and replaced by the newest point left (unless `rewriteLatest` is false:
   * ThingsBoard's REST default, where the key then has no latest value). Both default to true.
   */
  delete(entityId: string, keys: readonly string[], startTs: number, endTs: number, options?: TsDeleteOptions): Promise<number>;
  /** Number of stored points (for tests and benchmarks that count rows rather than trust acks). */
  count(entityId?: string): Promise<number>;
  /**
   * Retention: deletes the points older than their tenant's time to live, in short statements of a
   * few series each (no long lock), then lets the space be reused (VACUUM), so the table stops
   * growing. Latest values stay.
   */
  deleteExpired(opts: ExpireOptions): Promise<ExpireResult>;
}

export interface ExpireOptions {
  /** Time to live, ms, of the points of a tenant's entities (null: an entity of no known tenant); 0 keeps them. */
  ttlMsFor(tenantId: string | null): number;
  /** Now, ms (tests move it). Default Date.now(). */
  now?: number;
  /** Series (entity, key) per DELETE statement. Default 200. */
  seriesPerStatement?: number;
}

export interface ExpireResult {
  /** Points deleted. */
  deleted: number;
  /** Series looked at. */
  series: number;
  /** DELETE statements run. */
  statements: number;
}

/** A stored rule chain: ThingsBoard's export shape is kept in `metadata` as JSON. */
export interface RuleChainRecord {
  id: string;
  tenantId: string;
  name: string;
  root: boolean;
  debugMode: boolean;
  metadata: JsonValue;
  /** ThingsBoard's ruleChain.configuration (Rivulet keeps the processing strategy here); null when none. */
  configuration?: JsonValue | null;
  /** ThingsBoard's ruleChain.additionalInfo ({description}); null when none. */
  additionalInfo?: JsonValue | null;
  /**
   * ThingsBoard's optimistic lock: 1 when created, one more at every save (a debug switch, which the
   * engines apply in place, and a root switch leave it).
   */
  version: number;
  createdTime: number;
  updatedTime: number;
}

/** What RuleChainRepository.save takes. */
export type RuleChainSave = Omit<RuleChainRecord, 'createdTime' | 'updatedTime' | 'version'> & {
  createdTime?: number;
  /** Save only if the stored chain still has this version, else ConflictError (a stale editor). */
  expectedVersion?: number;
  /** Leave the version as it is (a change that is not an edit of the chain, like a debug switch). */
  keepVersion?: boolean;
};

export interface RuleChainRepository {
  /**
   * Insert or update by id (createdTime kept on update). Saving with root: true makes it the tenant's
   * only root. ConflictError when the id belongs to a chain of another tenant, or when
   * `expectedVersion` is given and the stored chain has another version.
   */
  save(record: RuleChainSave): Promise<RuleChainRecord>;
  get(tenantId: string, id: string): Promise<RuleChainRecord | null>;
  getRoot(tenantId: string): Promise<RuleChainRecord | null>;
  list(tenantId: string, page: PageQuery): Promise<Page<RuleChainRecord>>;
  /** Makes this chain the tenant's only root. NotFoundError when the tenant has no chain of that id. */
  setRoot(tenantId: string, id: string): Promise<void>;
  delete(tenantId: string, id: string): Promise<boolean>;
}

/**
 * A stored dashboard: ThingsBoard's Dashboard, its configuration (widgets, states, entity aliases,
 * time window, settings) kept as one JSON document that storage never looks into.
 */
export interface Dashboard {
  id: string;
  tenantId: string;
  title: string;
  description: string | null;
  configuration: JsonObject;
  createdTime: number;
}

/** A dashboard without its configuration (ThingsBoard's DashboardInfo): what lists return. */
export type DashboardInfo = Omit<Dashboard, 'configuration'>;

export interface DashboardRepository {
  /**
   * Creates the dashboard (id generated unless given), or replaces title, description and
   * configuration of the one with that id (createdTime kept). ConflictError when the id belongs to a
   * dashboard of another tenant; BadRequestError for a malformed id.
   */
  save(input: { id?: string | undefined; tenantId: string; title: string; description?: string | null | undefined; configuration: JsonObject }): Promise<Dashboard>;
  get(tenantId: string, id: string): Promise<Dashboard | null>;
  /**
   * Without configurations. Text search is a case-insensitive substring match on title (LIKE
   * wildcards taken literally); sortProperty: title|createdTime, default createdTime DESC.
   * BadRequestError for another sortProperty or a pageSize < 1.
   */
  list(tenantId: string, page: PageQuery): Promise<Page<DashboardInfo>>;
  delete(tenantId: string, id: string): Promise<boolean>;
}

export type AlarmSeverity = 'CRITICAL' | 'MAJOR' | 'MINOR' | 'WARNING' | 'INDETERMINATE';

/** ThingsBoard's alarm: one active alarm per (originator, type); acknowledged and cleared independently. */
export interface Alarm {
  id: string;
  tenantId: string;
  type: string;
  originatorType: string;
  originatorId: string;
  severity: AlarmSeverity;
  acknowledged: boolean;
  cleared: boolean;
  startTs: number;
  endTs: number;
  ackTs: number;
  clearTs: number;
  details: JsonValue;
  createdTime: number;
}

export type AlarmStatus = 'ACTIVE_UNACK' | 'ACTIVE_ACK' | 'CLEARED_UNACK' | 'CLEARED_ACK';

export interface AlarmQuery extends PageQuery {
  originatorId?: string | undefined;
  /** ThingsBoard's searchStatus: ANY, ACTIVE, CLEARED, ACK, UNACK. */
  searchStatus?: 'ANY' | 'ACTIVE' | 'CLEARED' | 'ACK' | 'UNACK' | undefined;
  /** ThingsBoard's status: both flags at once (ACTIVE_UNACK = not cleared and not acknowledged). */
  status?: AlarmStatus | undefined;
  severity?: AlarmSeverity | undefined;
  type?: string | undefined;
  startTime?: number | undefined;
  endTime?: number | undefined;
}

export interface AlarmRepository {
  /**
   * Creates an alarm, or updates the active (not cleared) alarm of the same originator and type:
   * `created` tells which. One active alarm per (originator, type) holds under concurrency.
   */
  createOrUpdate(input: {
    tenantId: string;
    type: string;
    originatorType: string;
    originatorId: string;
    severity: AlarmSeverity;
    details?: JsonValue;
    ts: number;
  }): Promise<{ alarm: Alarm; created: boolean }>;
  get(tenantId: string, id: string): Promise<Alarm | null>;
  findActive(tenantId: string, originatorId: string, type: string): Promise<Alarm | null>;
  acknowledge(tenantId: string, id: string, ts: number): Promise<Alarm | null>;
  clear(tenantId: string, id: string, ts: number, details?: JsonValue): Promise<Alarm | null>;
  list(tenantId: string, query: AlarmQuery): Promise<Page<Alarm>>;
  delete(tenantId: string, id: string): Promise<boolean>;
  /** Retention: deletes alarms cleared before `ts` (every tenant), in batches of 1,000; the number deleted. Active alarms stay. */
  deleteClearedBefore(ts: number): Promise<number>;
}

/** One debug event of a rule node (ThingsBoard's DEBUG_RULE_NODE event): a message going in or coming out. */
export interface DebugEventRecord {
  /** Assigned by storage (insertion order); ignored on save. */
  id?: string;
  tenantId: string;
  chainId: string;
  nodeIndex: number;
  nodeName: string;
  nodeType: string;
  ts: number;
  direction: 'IN' | 'OUT';
  /** OUT: the relation the message left by. */
  relation: string | null;
  msgId: string;
  msgType: string;
  originatorType: string;
  originatorId: string;
  data: JsonValue;
  metadata: Record<string, string>;
  error: string | null;
  /** OUT: time spent in the node's process(), ms. */
  durationMs: number | null;
}

export interface DebugEventRepository {
  /**
   * One statement per batch. With maxPerNode, each node the batch touched keeps only its newest
   * maxPerNode events (a cap, so a node left in debug mode cannot fill the disk).
   */
  saveBatch(events: ReadonlyArray<DebugEventRecord>, options?: { maxPerNode?: number }): Promise<void>;
  /** Newest first (sortProperty ts, the default, or id); nodeIndex undefined: every node of the chain. */
  list(tenantId: string, chainId: string, nodeIndex: number | undefined, page: PageQuery): Promise<Page<DebugEventRecord>>;
  count(tenantId: string, chainId: string, nodeIndex?: number): Promise<number>;
  /** Retention: removes events with ts < the given time; returns how many. */
  deleteOlderThan(ts: number): Promise<number>;
  /** Removes a chain's events (the chain was deleted), or one node's. */
  deleteByChain(tenantId: string, chainId: string, nodeIndex?: number): Promise<number>;
}

/**
 * A login session (an OAuth "refresh token family"): every refresh token issued for one login
 * shares its id; only the newest (refreshJti) is valid. Kept apart from the user row.
 */
export interface AuthSession {
  id: string;
  userId: string;
  /** Id (jti) of the one refresh token of this session that may still be used. */
  refreshJti: string;
  createdTime: number;
  updatedTime: number;
  /** When the newest refresh token expires; the session is useless after it. */
  expiresTime: number;
  revokedTime: number | null;
  /** Why: 'logout', 'reuse', 'password_change', 'password_reset'. */
  revokedReason: string | null;
}

export interface AuthSessionRepository {
  create(input: { id?: string; userId: string; refreshJti: string; expiresTime: number }): Promise<AuthSession>;
  get(id: string): Promise<AuthSession | null>;
  /**
   * Rotation as one atomic step: sets refreshJti to nextJti only when the session is not revoked,
   * not expired at `now`, and its refreshJti is still currentJti. Null otherwise (the caller then
   * tells reuse from revocation by reading the session).
   */
  rotate(input: { id: string; currentJti: string; nextJti: string; expiresTime: number; now: number }): Promise<AuthSession | null>;
  /** Revokes one session; false when it does not exist or was already revoked. */
  revoke(id: string, reason: string): Promise<boolean>;
  /** Revokes every live session of a user (except `exceptId`); returns the ids revoked. */
  revokeByUser(userId: string, reason: string, exceptId?: string): Promise<string[]>;
  /** Housekeeping: removes sessions that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}

/** One-time password reset tokens, stored by their SHA-256 (the token itself is never stored). */
export interface PasswordResetRepository {
  /** Stores a new token for the user, replacing the user's unused ones. */
  create(input: { userId: string; tokenHash: string; expiresTime: number }): Promise<void>;
  /** Uses the token once: the user id when it exists, is unused and not expired at `now`; null otherwise. */
  consume(tokenHash: string, now: number): Promise<string | null>;
  deleteExpired(before: number): Promise<number>;
}

/**
 * What a rule node keeps of an entity across restarts (ThingsBoard's RuleNodeState: rule node id,
 * entity id, JSON state), scoped by tenant: a tenant never reads another tenant's rows.
 */
export interface RuleNodeStateWrite {
  tenantId: string;
  /** The rule engine's node id (`<chainId>:<index>`), not necessarily a uuid. */
  ruleNodeId: string;
  entityId: string;
  state: JsonObject;
}

export interface RuleNodeStateRepository {
  /** The state the node saved for the entity in this tenant, or null. */
  get(tenantId: string, ruleNodeId: string, entityId: string): Promise<JsonObject | null>;
  /** Inserts or replaces (idempotent), one statement per batch; of two writes of one key the later wins. */
  save(items: ReadonlyArray<RuleNodeStateWrite>): Promise<void>;
  /** Removes one node's state of one entity; true when there was one. */
  delete(tenantId: string, ruleNodeId: string, entityId: string): Promise<boolean>;
  /** Removes every node's state of an entity (the device was deleted); returns how many. */
  deleteByEntity(tenantId: string, entityId: string): Promise<number>;
  /** Removes a node's states of every entity; with `prefix`, of every node whose id starts with it (a deleted chain). */
  deleteByNode(tenantId: string, ruleNodeId: string, options?: { prefix?: boolean }): Promise<number>;
}

export interface Storage {
  /** Which back end: 'postgres' (a server) or 'embedded' (PGlite) for storage-postgres. */
  readonly kind: string;
  readonly tenants: TenantRepository;
  readonly tenantProfiles: TenantProfileRepository;
  readonly users: UserRepository;
  readonly customers: CustomerRepository;
  readonly devices: DeviceRepository;
  readonly deviceProfiles: DeviceProfileRepository;
  readonly attributes: AttributeRepository;
  readonly timeseries: TimeseriesRepository;
  readonly ruleChains: RuleChainRepository;
  readonly alarms: AlarmRepository;
  readonly debugEvents: DebugEventRepository;
  readonly ruleNodeStates: RuleNodeStateRepository;
  readonly dashboards: DashboardRepository;
  readonly authSessions: AuthSessionRepository;
  readonly passwordResets: PasswordResetRepository;
  close(): Promise<void>;
}

export type { KvValue };
