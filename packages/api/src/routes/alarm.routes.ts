import { AlarmEntityParamsSchema, AlarmListQuerySchema, AlarmPageSchema, AlarmSaveRequestSchema, AlarmSchema, idParams, type AlarmDto } from '@rivulet/api-types';
import { z } from 'zod';
import type { Alarm, AlarmQuery, AlarmSeverity, AlarmStatus, Page } from '@rivulet/storage';
import { badParam, notFound } from '../api-error';
import { authed, TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import { pageParams, enumParam, intParam, optionalParam, parseBody, parseId } from '../params';
import { ok, type RouteDef, type RouteDoc } from '../router';
import type { EntityType, JsonValue } from '@rivulet/core';
import type { AlarmAction } from '../platform-events';
import type { AuthUser } from '../tokens';

const SORT_PROPERTIES = ['createdTime', 'startTs', 'endTs', 'ackTs', 'clearTs', 'type', 'severity'] as const;
const SEARCH_STATUSES = ['ANY', 'ACTIVE', 'CLEARED', 'ACK', 'UNACK'] as const;
const STATUSES: readonly AlarmStatus[] = ['ACTIVE_UNACK', 'ACTIVE_ACK', 'CLEARED_UNACK', 'CLEARED_ACK'];
const SEVERITIES: readonly AlarmSeverity[] = ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'];
const ORIGINATOR_TYPES = ['DEVICE', 'TENANT'] as const;

export function alarmStatus(a: Pick<Alarm, 'cleared' | 'acknowledged'>): AlarmStatus {
  return `${a.cleared ? 'CLEARED' : 'ACTIVE'}_${a.acknowledged ? 'ACK' : 'UNACK'}`;
}

/** ThingsBoard's AlarmInfo shape. Rivulet shows alarms to tenant administrators only and has no assignees or propagation: those fields keep their empty values. */
export function toAlarmDto(a: Alarm, originator: { name: string | null; label: string | null } = { name: null, label: null }): AlarmDto {
  return {
    id: { entityType: 'ALARM', id: a.id },
    createdTime: a.createdTime,
    tenantId: { entityType: 'TENANT', id: a.tenantId },
    customerId: null,
    type: a.type,
    name: a.type,
    originator: { entityType: a.originatorType, id: a.originatorId },
    originatorName: originator.name,
    originatorLabel: originator.label,
    severity: a.severity,
    status: alarmStatus(a),
    acknowledged: a.acknowledged,
    cleared: a.cleared,
    startTs: a.startTs,
    endTs: a.endTs,
    ackTs: a.ackTs,
    clearTs: a.clearTs,
    assigneeId: null,
    assignTs: 0,
    details: a.details ?? null,
    propagate: false,
    propagateToOwner: false,
    propagateToTenant: false,
    propagateRelationTypes: [],
  };
}

export function alarmRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, tokens } = deps;

  /** The originator's name and label, for the alarms of one answer (each originator read once). */
  async function withOriginators(tenantId: string, alarms: Alarm[]): Promise<AlarmDto[]> {
    const names = new Map<string, { name: string | null; label: string | null }>();
    await Promise.all(
      [...new Set(alarms.map((a) => `${a.originatorType}:${a.originatorId}`))].map(async (key) => {
        const [type, id] = key.split(':') as [string, string];
        if (type === 'DEVICE') {
          const d = await storage.devices.get(tenantId, id);
          names.set(key, { name: d?.name ?? null, label: d?.label ?? null });
        } else if (type === 'TENANT') {
          const t = await storage.tenants.get(id);
          names.set(key, { name: t?.title ?? null, label: null });
        }
      }),
    );
    return alarms.map((a) => toAlarmDto(a, names.get(`${a.originatorType}:${a.originatorId}`)));
  }

  async function one(tenantId: string, a: Alarm): Promise<AlarmDto> {
    return (await withOriginators(tenantId, [a]))[0]!;
  }

  /** The alarm's answer, after its platform event (originator: the alarm's originator, data: the alarm, as ThingsBoard's). */
  async function answer(user: AuthUser, action: AlarmAction, a: Alarm): Promise<AlarmDto> {
    const dto = await one(user.tenantId, a);
    await deps.events.forUser(user).alarm(action, {
      id: { entityType: 'ALARM', id: a.id },
      tenantId: a.tenantId,
      name: a.type,
      originator: { entityType: a.originatorType as EntityType, id: a.originatorId },
      dto: dto as unknown as JsonValue,
    });
    return dto;
  }

  async function alarmOf(tenantId: string, rawId: string | undefined): Promise<Alarm> {
    const id = parseId(rawId, 'alarmId');
    const a = await storage.alarms.get(tenantId, id);
    if (!a) throw notFound(`Alarm ${id} not found`);
    return a;
  }

  /** The originator must be the tenant itself or one of its devices. */
  async function checkOriginator(tenantId: string, entityType: string, id: string): Promise<void> {
    if (entityType === 'DEVICE') {
      if (!(await storage.devices.get(tenantId, id))) throw notFound(`Device ${id} not found`);
    } else if (entityType === 'TENANT') {
      if (id !== tenantId) throw notFound(`Tenant ${id} not found`);
    } else {
      throw badParam(`Alarms of entity type ${entityType} are not supported; use DEVICE or TENANT`);
    }
  }

  function queryOf(q: URLSearchParams): AlarmQuery {
    const searchStatus = enumParam(q, 'searchStatus', SEARCH_STATUSES);
    const status = enumParam(q, 'status', STATUSES);
    if (searchStatus !== undefined && status !== undefined) {
      // ThingsBoard's own refusal.
      throw badParam("Invalid alarms search query: Both parameters 'searchStatus' and 'status' can't be specified at the same time!");
    }
    return {
      ...pageParams(q, SORT_PROPERTIES),
      searchStatus,
      status,
      severity: enumParam(q, 'severity', SEVERITIES),
      type: optionalParam(q, 'type'),
      startTime: intParam(q, 'startTime', { min: 0 }),
      endTime: intParam(q, 'endTime', { min: 0 }),
    };
  }

  async function page(tenantId: string, query: AlarmQuery): Promise<Page<AlarmDto>> {
    const p = await storage.alarms.list(tenantId, query);
    return { ...p, data: await withOriginators(tenantId, p.data) };
  }

  const route = (method: RouteDef['method'], path: string, doc: RouteDoc, handler: Parameters<typeof authed>[1]): RouteDef => ({
    method,
    path,
    tag: 'Alarm',
    ...doc,
    handler: authed(tokens, handler, TENANT_ADMIN_ONLY),
  });

  return [
    route('POST', '/api/alarm', { summary: 'Raise an alarm (or update the active one of that originator and type; with id: that alarm)', body: AlarmSaveRequestSchema, response: AlarmSchema, createsId: ['alarmId'] }, async (ctx, user) => {
      const input = parseBody(AlarmSaveRequestSchema, await ctx.body());
      const originatorId = input.originator.id.toLowerCase();
      const now = Date.now();
      if (input.id) {
        // ThingsBoard's save with an id updates that alarm: its severity and details.
        const existing = await alarmOf(user.tenantId, input.id.id);
        if (existing.cleared) throw badParam('Alarm is cleared and can not be updated; create a new one');
        if (existing.type !== input.type || existing.originatorId !== originatorId) throw badParam("An alarm's type and originator can not be changed");
        const { alarm } = await storage.alarms.createOrUpdate({
          tenantId: user.tenantId,
          type: existing.type,
          originatorType: existing.originatorType,
          originatorId: existing.originatorId,
          severity: input.severity,
          ...(input.details !== undefined && input.details !== null ? { details: input.details } : {}),
          ts: now,
        });
        return ok(await answer(user, 'UPDATED', alarm));
      }
      await checkOriginator(user.tenantId, input.originator.entityType, originatorId);
      const { alarm, created } = await storage.alarms.createOrUpdate({
        tenantId: user.tenantId,
        type: input.type,
        originatorType: input.originator.entityType,
        originatorId,
        severity: input.severity,
        ...(input.details !== undefined && input.details !== null ? { details: input.details } : {}),
        ts: input.startTs ?? now,
      });
      return ok(await answer(user, created ? 'ADDED' : 'UPDATED', alarm));
    }),

    route('GET', '/api/alarm/{alarmId}', { summary: 'An alarm', params: idParams('alarmId'), response: AlarmSchema }, async (ctx, user) => ok(await one(user.tenantId, await alarmOf(user.tenantId, ctx.params.alarmId)))),
    route('GET', '/api/alarm/info/{alarmId}', { summary: 'An alarm with its originator name', params: idParams('alarmId'), response: AlarmSchema }, async (ctx, user) => ok(await one(user.tenantId, await alarmOf(user.tenantId, ctx.params.alarmId)))),

    route('POST', '/api/alarm/{alarmId}/ack', { summary: 'Acknowledge an alarm', params: idParams('alarmId'), body: null, response: AlarmSchema }, async (ctx, user) => {
      const a = await alarmOf(user.tenantId, ctx.params.alarmId);
      const acked = await storage.alarms.acknowledge(user.tenantId, a.id, Date.now());
      if (!acked) throw notFound(`Alarm ${a.id} not found`);
      return ok(await answer(user, 'ALARM_ACK', acked));
    }),

    route('POST', '/api/alarm/{alarmId}/clear', { summary: 'Clear an alarm', params: idParams('alarmId'), body: null, response: AlarmSchema }, async (ctx, user) => {
      const a = await alarmOf(user.tenantId, ctx.params.alarmId);
      const cleared = await storage.alarms.clear(user.tenantId, a.id, Date.now());
      if (!cleared) throw notFound(`Alarm ${a.id} not found`);
      return ok(await answer(user, 'ALARM_CLEAR', cleared));
    }),

    route('DELETE', '/api/alarm/{alarmId}', { summary: 'Delete an alarm (answers true)', params: idParams('alarmId'), response: z.boolean() }, async (ctx, user) => {
      const a = await alarmOf(user.tenantId, ctx.params.alarmId);
      // ThingsBoard answers true.
      const deleted = await storage.alarms.delete(user.tenantId, a.id);
      if (deleted) await answer(user, 'ALARM_DELETE', a);
      return ok(deleted);
    }),

    route('GET', '/api/alarm/{entityType}/{entityId}', { summary: 'A page of the alarms of one originator', params: AlarmEntityParamsSchema, query: AlarmListQuerySchema, response: AlarmPageSchema }, async (ctx, user) => {
      const entityType = ctx.params.entityType ?? '';
      if (!(ORIGINATOR_TYPES as readonly string[]).includes(entityType)) {
        throw badParam(`Alarms of entity type '${entityType}' are not supported; use DEVICE or TENANT`);
      }
      const entityId = parseId(ctx.params.entityId, 'entityId');
      await checkOriginator(user.tenantId, entityType, entityId);
      return ok(await page(user.tenantId, { ...queryOf(ctx.query), originatorId: entityId }));
    }),

    route('GET', '/api/alarms', { summary: "A page of the tenant's alarms", query: AlarmListQuerySchema, response: AlarmPageSchema }, async (ctx, user) => ok(await page(user.tenantId, queryOf(ctx.query)))),
  ];
}
