import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import {
  AttributeScope,
  ConflictError,
  createMsg,
  MsgType,
  silentLogger,
  TenantLimitError,
  type AttributeWrite,
  type DeviceEvent,
  type DeviceProvisioningService,
  type JsonValue,
  type Logger,
  type ProvisionResponse,
  type ProvisionTransport,
  type TenantLimitsSource,
} from '@rivulet/core';
import { mqttBasicCredentialsId, parseBasicMqttCredentials, toDeviceDto } from '@rivulet/api';
import { Topics, type Queue } from '@rivulet/queue';
import type { Device, DeviceCredentials, DeviceProfile, Storage } from '@rivulet/storage';
import { parseProvisionRequest, type ProvisionRequest } from './provision-request';

/** ThingsBoard's marker of a provisioned device (DeviceProvisionServiceImpl): server attribute provisionState = "provisioned". */
export const PROVISION_STATE_ATTRIBUTE = 'provisionState';
export const PROVISIONED_STATE = 'provisioned';
/** ThingsBoard's errorMsg texts (ProtoConverter/JsonConverter.toJson(ProvisionDeviceResponseMsg)). */
export const NOT_FOUND_MSG = 'Provision data was not found!';
export const FAILURE_MSG = 'Failed to provision device!';
/** How long a provisioning answer waits for its events when the queue holds producers back. */
const EVENT_WAIT_MS = 2_000;

const NOT_FOUND: ProvisionResponse = { status: 'NOT_FOUND', errorMsg: NOT_FOUND_MSG };
const FAILURE: ProvisionResponse = { status: 'FAILURE', errorMsg: FAILURE_MSG };

/**
 * Device provisioning (ThingsBoard's DeviceProvisionServiceImpl) on storage. The device profile is
 * found by the request's provisionDeviceKey; its secret (profileData.provisionConfiguration.
 * provisionDeviceSecret) is compared in constant time. Then, by the profile's provisionType:
 * - ALLOW_CREATE_NEW_DEVICES: a device of that name must not exist in the profile's tenant; it is
 *   created there with that profile (the tenant's maxDevices holds), with the requested credentials
 *   or a generated access token, marked provisioned, and ENTITY_CREATED and PROVISION_SUCCESS go to
 *   the rule engine. An existing device: FAILURE (and PROVISION_FAILURE on it).
 * - CHECK_PRE_PROVISIONED_DEVICES: a device of that name and profile must exist and not be
 *   provisioned yet; it is marked and its credentials are the answer. Once only: a second request
 *   is FAILURE (ThingsBoard 3.9+; earlier versions answered it again).
 * - DISABLED, an unknown key, a wrong secret: NOT_FOUND.
 * Never rejects: storage trouble is logged and answered FAILURE.
 */
export function createDeviceProvisioningService(o: {
  storage: Storage;
  queue: Queue;
  broadcast: Broadcast;
  tenantLimits?: TenantLimitsSource;
  logger?: Logger;
}): DeviceProvisioningService {
  const { storage, queue, broadcast } = o;
  const logger = (o.logger ?? silentLogger).child({ component: 'device-provisioning' });

  async function provision(request: unknown, transport: ProvisionTransport): Promise<ProvisionResponse> {
    const req = parseProvisionRequest(request);
    if (req === 'NOT_FOUND') return NOT_FOUND;
    if (req === 'FAILURE') {
      logger.debug({ transport }, 'provision request refused: malformed');
      return FAILURE;
    }
    const profile = await storage.deviceProfiles.findByProvisionKey(req.provisionDeviceKey);
    const secret = profile ? provisionSecret(profile) : null;
    if (!profile || secret === null) return NOT_FOUND;
    const secretMatches = sameSecret(req.provisionDeviceSecret, secret);
    if (!secretMatches || (profile.provisionType !== 'ALLOW_CREATE_NEW_DEVICES' && profile.provisionType !== 'CHECK_PRE_PROVISIONED_DEVICES')) {
      logger.debug({ tenantId: profile.tenantId, profileId: profile.id, transport }, 'provision request refused: wrong secret or provisioning disabled');
      return NOT_FOUND;
    }
    const existing = req.deviceName === '' ? null : await storage.devices.findByName(profile.tenantId, req.deviceName);
    if (profile.provisionType === 'ALLOW_CREATE_NEW_DEVICES') {
      if (existing) {
        logger.warn({ tenantId: profile.tenantId, deviceId: existing.id, transport }, 'provision request refused: the device exists and cannot be provisioned once more');
        await event(MsgType.PROVISION_FAILURE, existing, requestData(req, transport));
        return FAILURE;
      }
      return create(req, profile, transport);
    }
    if (!existing || existing.deviceProfileId !== profile.id) {
      logger.warn({ tenantId: profile.tenantId, profileId: profile.id, transport }, 'provision request refused: no pre-provisioned device of that name and profile');
      return FAILURE;
    }
    return preProvisioned(req, existing, transport);
  }

  async function create(req: ProvisionRequest, profile: DeviceProfile, transport: ProvisionTransport): Promise<ProvisionResponse> {
    // ThingsBoard generates a 20-character name when the request has none
    const name = req.deviceName || randomName();
    const tenantId = profile.tenantId;
    const maxDevices = o.tenantLimits?.forTenant(tenantId).maxDevices ?? 0;
    let device: Device;
    let credentials: DeviceCredentials;
    try {
      const token = req.credentials?.type === 'ACCESS_TOKEN' ? req.credentials.token : undefined;
      ({ device, credentials } = await storage.devices.create({ tenantId, name, deviceProfileId: profile.id }, token, { maxDevices }));
    } catch (e) {
      if (e instanceof ConflictError) {
        // the name was taken meanwhile, or the requested token is another device's
        logger.warn({ tenantId, transport, err: e }, 'provision request refused: name or credentials taken');
        return FAILURE;
      }
      if (e instanceof TenantLimitError) {
        logger.warn({ tenantId, transport, maxDevices: e.value }, 'provision request refused: tenant at its device limit');
        return FAILURE;
      }
      throw e;
    }
    if (req.credentials?.type === 'MQTT_BASIC') {
      const value = { clientId: req.credentials.clientId, userName: req.credentials.userName, password: req.credentials.password };
      try {
        credentials = await storage.devices.updateCredentials(device.id, { credentialsType: 'MQTT_BASIC', credentialsId: mqttBasicCredentialsId(value), credentialsValue: JSON.stringify(value) });
      } catch (e) {
        // ThingsBoard's save is one transaction: the device goes with its credentials
        await storage.devices.delete(tenantId, device.id);
        if (e instanceof ConflictError) {
          logger.warn({ tenantId, transport }, 'provision request refused: MQTT basic credentials taken');
          return FAILURE;
        }
        throw e;
      }
    }
    await markProvisioned(device);
    // transports' caches learn of the device (a token tried before it existed is no longer "unknown")
    broadcast.publish(LiveChannel.DEVICES, { tenantId, deviceId: device.id, kind: 'created' } satisfies DeviceEvent);
    logger.info({ tenantId, deviceId: device.id, profileId: profile.id, transport }, 'device provisioned (created)');
    await Promise.all([
      event(MsgType.ENTITY_CREATED, device, toDeviceDto(device) as unknown as JsonValue),
      event(MsgType.PROVISION_SUCCESS, device, requestData(req, transport)),
    ]);
    return answer(credentials);
  }

  async function preProvisioned(req: ProvisionRequest, device: Device, transport: ProvisionTransport): Promise<ProvisionResponse> {
    const [state] = await storage.attributes.find(device.id, AttributeScope.SERVER_SCOPE, [PROVISION_STATE_ATTRIBUTE]);
    if (state) {
      logger.warn({ tenantId: device.tenantId, deviceId: device.id, transport, state: state.value }, 'provision request refused: the device is provisioned already');
      if (state.value === PROVISIONED_STATE) await event(MsgType.PROVISION_FAILURE, device, requestData(req, transport));
      return FAILURE;
    }
    const credentials = await storage.devices.getCredentials(device.id);
    if (!credentials) return FAILURE;
    // Written only if absent, atomically in storage: of requests racing in one process or in several, one answers SUCCESS.
    if (!(await storage.attributes.saveIfAbsent(provisionedMarker(device)))) {
      logger.warn({ tenantId: device.tenantId, deviceId: device.id, transport }, 'provision request refused: the device was provisioned meanwhile');
      await event(MsgType.PROVISION_FAILURE, device, requestData(req, transport));
      return FAILURE;
    }
    logger.info({ tenantId: device.tenantId, deviceId: device.id, transport }, 'device provisioned (pre-provisioned)');
    await event(MsgType.PROVISION_SUCCESS, device, requestData(req, transport));
    return answer(credentials);
  }

  function provisionedMarker(device: Device): AttributeWrite {
    return { entityId: device.id, scope: AttributeScope.SERVER_SCOPE, key: PROVISION_STATE_ATTRIBUTE, value: PROVISIONED_STATE, lastUpdateTs: Date.now() };
  }

  function markProvisioned(device: Device): Promise<void> {
    return storage.attributes.save([provisionedMarker(device)]);
  }

  /** A rule-engine message about the device, metadata `tenantId` as ThingsBoard's; waits a moment for a full queue, never fails the answer. */
  async function event(type: string, device: Device, data: JsonValue): Promise<void> {
    const msg = createMsg({ type, originator: { entityType: 'DEVICE', id: device.id }, tenantId: device.tenantId, metadata: { tenantId: device.tenantId }, data });
    const sent = queue.produce(Topics.RULE_ENGINE, [{ key: device.id, value: msg }]).then(
      () => true,
      (e: unknown) => {
        logger.warn({ err: e, tenantId: device.tenantId, deviceId: device.id, type }, 'provisioning event not produced');
        return true;
      },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = await Promise.race([sent, new Promise<false>((r) => (timer = setTimeout(() => r(false), EVENT_WAIT_MS)))]);
    clearTimeout(timer);
    if (!waited) logger.warn({ tenantId: device.tenantId, deviceId: device.id, type }, 'provisioning event waiting for room in the queue; answering without it');
  }

  return {
    async provision(request, transport) {
      try {
        return await provision(request, transport);
      } catch (e) {
        logger.error({ err: e, transport }, 'provision request failed');
        return FAILURE;
      }
    },
  };
}

/** The profile's provisionDeviceSecret, or null when it has none (ThingsBoard: NOT_FOUND). */
function provisionSecret(profile: DeviceProfile): string | null {
  const config = profile.profileData.provisionConfiguration;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return null;
  const secret = config.provisionDeviceSecret;
  return typeof secret === 'string' && secret !== '' ? secret : null;
}

function sameSecret(given: string, stored: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(stored, 'utf8').digest();
  return timingSafeEqual(a, b);
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomName(): string {
  let s = '';
  for (let i = 0; i < 20; i++) s += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return s;
}

/**
 * The request as PROVISION_SUCCESS / PROVISION_FAILURE carry it (ThingsBoard's ProvisionRequest
 * JSON), without the provision secret and the requested token and password: rule chains and their
 * debug events must not see credentials.
 */
function requestData(req: ProvisionRequest, transport: ProvisionTransport): JsonValue {
  const c = req.credentials;
  return {
    deviceName: req.deviceName,
    credentialsType: c?.type ?? 'ACCESS_TOKEN',
    credentials: { provisionDeviceKey: req.provisionDeviceKey },
    credentialsData: c?.type === 'MQTT_BASIC' ? { clientId: c.clientId, username: c.userName } : {},
    transport,
  };
}

/** ThingsBoard's SUCCESS answer: the token, or the MQTT basic credentials as an object. */
function answer(c: DeviceCredentials): ProvisionResponse {
  if (c.credentialsType === 'MQTT_BASIC') {
    const v = parseBasicMqttCredentials(c.credentialsValue);
    return { status: 'SUCCESS', credentialsType: 'MQTT_BASIC', credentialsValue: { clientId: v?.clientId ?? null, userName: v?.userName ?? null, password: v?.password ?? null } };
  }
  return { status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: c.credentialsId };
}
