import { createMsg, doubleKeysOf, markDoubleKeys, MsgType, type EntityId, type JsonObject, type JsonValue, type KvValue, type Logger, type Msg } from '@rivulet/core';
import { Topics, type Queue } from '@rivulet/queue';
import type { AuthUser } from './tokens';

/**
 * Platform events: what a user did through the REST API, handed to the rule engine as ThingsBoard's
 * EntityActionService.pushEntityActionToRuleEngine does, so chains written for ThingsBoard that
 * switch on "Entity Created", "Attributes Updated", "Alarm Acknowledged"... fire.
 *
 * Tenant-bound by construction: `forUser(user)` gives an emitter whose messages carry the user's
 * tenant and no other; the caller passes entities it already resolved within that tenant, and an
 * entity that names another tenant is refused (logged, never produced).
 *
 * Metadata as ThingsBoard's: userId, userName (the email, ThingsBoard's User.getName()), userEmail,
 * customerId (of a customer user); with an entity: entityName, entityType; attribute events: scope.
 * A produce that fails is logged and the REST answer stands (ThingsBoard logs and goes on too): the
 * change itself is already stored.
 */
export interface PlatformEvents {
  forUser(user: AuthUser): TenantEvents;
}

/** An entity as the event's data carries it: its REST shape (ThingsBoard's valueToTree(entity)). */
export interface EventEntity {
  readonly id: EntityId;
  /** The tenant the entity belongs to: must be the user's. */
  readonly tenantId: string;
  readonly name: string;
  readonly dto: JsonValue;
}

export type EntityAction = 'ADDED' | 'UPDATED' | 'DELETED';
export type AlarmAction = 'ALARM_ACK' | 'ALARM_CLEAR' | 'ALARM_DELETE' | EntityAction;

export interface TenantEvents {
  /** ENTITY_CREATED / ENTITY_UPDATED / ENTITY_DELETED; originator the entity, data its REST shape. */
  entity(action: EntityAction, entity: EventEntity): Promise<void>;
  /**
   * ENTITY_ASSIGNED / ENTITY_UNASSIGNED of an entity to or from a customer: originator the entity,
   * data its REST shape, metadata assignedCustomerId/Name (unassignedCustomerId/Name) and customerId.
   */
  assignment(kind: 'ASSIGNED' | 'UNASSIGNED', entity: EventEntity, customer: { readonly id: string; readonly title: string }): Promise<void>;
  /** ATTRIBUTES_UPDATED: data `{key: value}`, metadata scope. */
  attributesUpdated(originator: EntityId, scope: string, values: Readonly<Record<string, KvValue>>): Promise<void>;
  /** ATTRIBUTES_DELETED: data `{"attributes": [keys]}`, metadata scope. */
  attributesDeleted(originator: EntityId, scope: string, keys: readonly string[]): Promise<void>;
  /** TIMESERIES_UPDATED: data `{"timeseries": [{"ts", "values": {..}}]}`. */
  timeseriesUpdated(originator: EntityId, points: ReadonlyArray<{ ts: number; key: string; value: KvValue }>): Promise<void>;
  /** TIMESERIES_DELETED: data `{"timeseries": [keys], "startTs", "endTs"}`. */
  timeseriesDeleted(originator: EntityId, keys: readonly string[], startTs: number, endTs: number): Promise<void>;
  /**
   * An alarm created (ENTITY_CREATED), updated (ENTITY_UPDATED), acknowledged (ALARM_ACK), cleared
   * (ALARM_CLEAR) or deleted (ALARM_DELETE). As in ThingsBoard the originator is the alarm's
   * originator (the device), the data the alarm.
   */
  alarm(action: AlarmAction, alarm: EventEntity & { readonly originator: EntityId }): Promise<void>;
}

const ENTITY_TYPES: Readonly<Record<EntityAction, string>> = {
  ADDED: MsgType.ENTITY_CREATED,
  UPDATED: MsgType.ENTITY_UPDATED,
  DELETED: MsgType.ENTITY_DELETED,
};
const ALARM_TYPES: Readonly<Record<AlarmAction, string>> = {
  ...ENTITY_TYPES,
  ALARM_ACK: MsgType.ALARM_ACK,
  ALARM_CLEAR: MsgType.ALARM_CLEAR,
  ALARM_DELETE: MsgType.ALARM_DELETE,
};

/** How long a REST call waits for its platform event to be accepted by a queue that holds producers back. */
const PRODUCE_WAIT_MS = 2_000;

/** Produces to the rule-engine topic, keyed by originator (the order of one entity's events holds). */
export function createPlatformEvents(o: { queue: Queue; logger: Logger }): PlatformEvents {
  const logger = o.logger.child({ component: 'platform-events' });

  return {
    forUser(user) {
      const tenantId = user.tenantId;
      const base: Record<string, string> = { userId: user.userId, userName: user.email, userEmail: user.email };
      if (user.customerId) base.customerId = user.customerId;

      async function produce(type: string, originator: EntityId, data: JsonValue, metadata: Record<string, string> = {}): Promise<void> {
        const msg: Msg = createMsg({ type, originator, tenantId, metadata: { ...base, ...metadata }, data });
        const sent = o.queue.produce(Topics.RULE_ENGINE, [{ key: originator.id, value: msg }]).then(
          () => true,
          (e: unknown) => {
            logger.warn({ err: e, tenantId, type, originatorId: originator.id }, 'platform event not produced');
            return true;
          },
        );
        // A full or lagging queue holds produce (backpressure): the REST answer waits a moment for it,
        // not for as long as the rule engine is behind; the event still goes out when there is room.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const waited = await Promise.race([sent, new Promise<false>((r) => (timer = setTimeout(() => r(false), PRODUCE_WAIT_MS)))]);
        clearTimeout(timer);
        if (!waited) logger.warn({ tenantId, type, originatorId: originator.id, waitedMs: PRODUCE_WAIT_MS }, 'platform event waiting for room in the queue; answering without it');
      }

      function sameTenant(e: EventEntity, type: string): boolean {
        if (e.tenantId === tenantId) return true;
        // A caller bug, never a user's doing: the routes resolve entities within the user's tenant.
        logger.error({ tenantId, entityTenantId: e.tenantId, type }, 'platform event for an entity of another tenant refused');
        return false;
      }

      return {
        async entity(action, e) {
          const type = ENTITY_TYPES[action];
          if (!sameTenant(e, type)) return;
          await produce(type, e.id, e.dto, { entityName: e.name, entityType: e.id.entityType });
        },
        async assignment(kind, e, customer) {
          const type = kind === 'ASSIGNED' ? MsgType.ENTITY_ASSIGNED : MsgType.ENTITY_UNASSIGNED;
          if (!sameTenant(e, type)) return;
          const prefix = kind === 'ASSIGNED' ? 'assigned' : 'unassigned';
          await produce(type, e.id, e.dto, {
            entityName: e.name,
            entityType: e.id.entityType,
            customerId: customer.id,
            [`${prefix}CustomerId`]: customer.id,
            [`${prefix}CustomerName`]: customer.title,
          });
        },
        attributesUpdated(originator, scope, values) {
          // the spread leaves the parser's marks behind: carried over, so 1.0 stays a double in the message
          return produce(MsgType.ATTRIBUTES_UPDATED, originator, markDoubleKeys({ ...values } as JsonObject, doubleKeysOf(values) ?? []), { scope });
        },
        attributesDeleted(originator, scope, keys) {
          return produce(MsgType.ATTRIBUTES_DELETED, originator, { attributes: [...keys] }, { scope });
        },
        timeseriesUpdated(originator, points) {
          const byTs = new Map<number, JsonObject>();
          for (const p of points) {
            let values = byTs.get(p.ts);
            if (!values) byTs.set(p.ts, (values = {}));
            Object.defineProperty(values, p.key, { value: p.value, enumerable: true, writable: true, configurable: true });
          }
          const timeseries = [...byTs].map(([ts, values]) => ({ ts, values }));
          return produce(MsgType.TIMESERIES_UPDATED, originator, { timeseries });
        },
        timeseriesDeleted(originator, keys, startTs, endTs) {
          return produce(MsgType.TIMESERIES_DELETED, originator, { timeseries: [...keys], startTs, endTs });
        },
        async alarm(action, a) {
          const type = ALARM_TYPES[action];
          if (!sameTenant(a, type)) return;
          // ThingsBoard: logEntityAction(alarm.getOriginator(), alarm, ...): entityType is the originator's.
          await produce(type, a.originator, a.dto, { entityName: a.name, entityType: a.originator.entityType });
        },
      };
    },
  };
}

/** No events (an API built without a queue: tests, embedding). */
export const NO_PLATFORM_EVENTS: PlatformEvents = {
  forUser: () => ({
    entity: async () => {},
    assignment: async () => {},
    attributesUpdated: async () => {},
    attributesDeleted: async () => {},
    timeseriesUpdated: async () => {},
    timeseriesDeleted: async () => {},
    alarm: async () => {},
  }),
};
