import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import {
  formatIssues,
  WsAttrSubCmdSchema,
  WsClientEnvelopeSchema,
  WsCmdSchema,
  WsErrorCodes,
  WsHistoryCmdSchema,
  WsTsSubCmdSchema,
  type AggregationName,
  type WsUpdate,
} from '@rivulet/api-types';
import {
  AttributeScope,
  errorMessage,
  parseJsonWithDepthLimit,
  isRivuletError,
  kvToString,
  parseKeyList,
  type AttributesEvent,
  type DeviceEvent,
  type Logger,
  type TelemetryEvent,
  type TenantLimitsSource,
} from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createAccessPolicy, DEVICE_READERS } from '../access';
import { splitUrl } from '../http';
import { setOwn } from '../own';
import type { AuthUser, TokenService } from '../tokens';
import { SubscriptionIndex, type LiveSubscription, type SubscriptionKind } from './subscription-index';

/** ThingsBoard's current path and its older one (which takes `?token=`); both take either way of authenticating. */
export const WS_PATHS: ReadonlySet<string> = new Set(['/api/ws', '/api/ws/plugins/telemetry']);

const ALL_SCOPES = [AttributeScope.CLIENT_SCOPE, AttributeScope.SERVER_SCOPE, AttributeScope.SHARED_SCOPE] as const;
/** RFC 6455 7.4.1: 1008 policy violation (authentication), 1001 going away, 1013 try again later. */
const CLOSE_POLICY = 1008;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_TRY_LATER = 1013;

export interface WsServerOptions {
  storage: Storage;
  broadcast: Broadcast;
  tokens: TokenService;
  logger: Logger;
  /** Time allowed for the authCmd after the connection opens. */
  authTimeoutMs?: number;
  maxSubscriptionsPerSession?: number;
  /** Largest client frame accepted. */
  maxFrameBytes?: number;
  /** A session whose unsent output grows beyond this is closed rather than buffered without bound. */
  maxBufferedBytes?: number;
  /** Ping period; a session that missed the previous pong is dropped. 0 turns it off. */
  heartbeatMs?: number;
  /** Whether a login session is still live; sessions of ended logins (logout, password change) are closed. */
  isSessionActive?: (sessionId: string) => Promise<boolean>;
  /** How often open connections are checked against isSessionActive. Default 5000 ms. */
  sessionCheckMs?: number;
  /** maxWsSessionsPerTenant and maxWsSubscriptionsPerTenant of each tenant; without it neither is enforced. */
  tenantLimits?: TenantLimitsSource | undefined;
}

export interface WsServer {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Live subscriptions across all sessions. */
  subscriptionCount(): number;
  /** WebSocket sessions open now (authenticated or not yet). */
  sessionCount(): number;
  close(): Promise<void>;
}

interface Session {
  readonly ws: WebSocket;
  user: AuthUser | null;
  /** The tenant this session is counted under (maxWsSessionsPerTenant), once authenticated. */
  countedTenant: string | null;
  readonly subs: Map<number, LiveSubscription>;
  /** Frames are handled one after another, so a subscribe's snapshot precedes what later frames cause. */
  work: Promise<void>;
  authTimer: NodeJS.Timeout | null;
  closed: boolean;
  alive: boolean;
}

type Command =
  | { op: 'unsubscribe'; cmdId: number }
  | { op: 'subscribe'; kind: SubscriptionKind; cmdId: number; entityType: string; entityId: string; keys: string[] | null; scope: AttributeScope | null; everyPointFrom?: number | undefined }
  | {
      op: 'history';
      cmdId: number;
      entityType: string;
      entityId: string;
      keys: string[] | null;
      startTs: number;
      endTs: number;
      interval: number | undefined;
      limit: number | undefined;
      agg: AggregationName | undefined;
    };

function keyList(keys: string | string[] | undefined): string[] | null {
  if (keys === undefined) return null;
  const list = Array.isArray(keys) ? keys.map((k) => k.trim()).filter((k) => k.length > 0) : (parseKeyList(keys) ?? []);
  return list.length > 0 ? list : null;
}

function cmdIdOf(raw: unknown): number | null {
  if (typeof raw === 'object' && raw !== null && 'cmdId' in raw && typeof raw.cmdId === 'number') return raw.cmdId;
  return null;
}

function isTelemetryEvent(e: unknown): e is TelemetryEvent {
  return typeof e === 'object' && e !== null && typeof (e as TelemetryEvent).entityId === 'string' && Array.isArray((e as TelemetryEvent).points);
}

function isAttributesEvent(e: unknown): e is AttributesEvent {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as AttributesEvent).entityId === 'string' &&
    typeof (e as AttributesEvent).scope === 'string' &&
    Array.isArray((e as AttributesEvent).values)
  );
}

export function createWsServer(options: WsServerOptions): WsServer {
  const { storage, tokens, logger } = options;
  const authTimeoutMs = options.authTimeoutMs ?? 10_000;
  const maxSubs = options.maxSubscriptionsPerSession ?? 100;
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const index = new SubscriptionIndex();
  const sessions = new Set<Session>();
  /** Authenticated sessions and live subscriptions per tenant, for the tenant's limits (ThingsBoard's counts). */
  const tenantSessions = new Map<string, number>();
  const tenantSubscriptions = new Map<string, number>();
  const bump = (m: Map<string, number>, tenantId: string, by: number): void => {
    const n = (m.get(tenantId) ?? 0) + by;
    if (n <= 0) m.delete(tenantId);
    else m.set(tenantId, n);
  };
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? 64 * 1024 });
  let closed = false;

  // The broadcast handler runs in the publisher's call stack: it must never throw into it.
  const unsubscribers = [
    options.broadcast.subscribe(LiveChannel.TELEMETRY, (e) => {
      if (!isTelemetryEvent(e)) return;
      try {
        index.onTelemetry(e);
      } catch (err) {
        logger.error({ err: errorMessage(err), entityId: e.entityId }, 'WebSocket telemetry fan-out failed');
      }
    }),
    options.broadcast.subscribe(LiveChannel.ATTRIBUTES, (e) => {
      if (!isAttributesEvent(e)) return;
      try {
        index.onAttributes(e);
      } catch (err) {
        logger.error({ err: errorMessage(err), entityId: e.entityId }, 'WebSocket attributes fan-out failed');
      }
    }),
  ];

  // A device changed hands (assigned, unassigned, its customer or tenant deleted): subscriptions to it
  // are checked again, so a customer user stops receiving a device that is no longer its customer's.
  unsubscribers.push(
    options.broadcast.subscribe(LiveChannel.DEVICES, (e) => {
      const event = e as Partial<DeviceEvent>;
      if (typeof event.deviceId !== 'string' || (event.kind !== 'updated' && event.kind !== 'deleted')) return;
      for (const s of sessions) {
        if (s.user === null || ![...s.subs.values()].some((sub) => sub.entityId === event.deviceId)) continue;
        const deviceId = event.deviceId;
        enqueue(s, () => recheck(s, deviceId));
      }
    }),
  );

  /** Drops the session's subscriptions to the device its user may no longer read; closes it when the user is gone. */
  async function recheck(s: Session, deviceId: string): Promise<void> {
    const current = await storage.users.get((s.user as AuthUser).userId);
    if (!current || !current.enabled || current.tenantId !== (s.user as AuthUser).tenantId) {
      closeSession(s, CLOSE_POLICY, 'The user no longer exists');
      return;
    }
    const user: AuthUser = { userId: current.id, tenantId: current.tenantId, customerId: current.customerId, email: current.email, authority: current.authority, sessionId: (s.user as AuthUser).sessionId };
    s.user = user;
    try {
      await createAccessPolicy(storage, user).readableDevice(deviceId);
      return;
    } catch (e) {
      if (!isRivuletError(e)) throw e;
    }
    for (const [cmdId, sub] of [...s.subs]) {
      if (sub.entityId !== deviceId) continue;
      unsubscribe(s, cmdId);
      sendError(s, cmdId, WsErrorCodes.UNAUTHORIZED, `Device ${deviceId} not found`);
    }
  }

  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const s of sessions) {
            if (!s.alive) {
              s.ws.terminate();
              continue;
            }
            s.alive = false;
            s.ws.ping();
          }
        }, heartbeatMs)
      : null;
  heartbeat?.unref();

  // A connection outlives the check of its authCmd: a logout must still end it.
  const isSessionActive = options.isSessionActive;
  const sessionCheck = isSessionActive
    ? setInterval(() => {
        for (const s of sessions) {
          const user = s.user;
          if (user === null || s.closed) continue;
          isSessionActive(user.sessionId).then(
            (active) => {
              if (!active) closeSession(s, CLOSE_POLICY, 'The login session has ended (logout or password change)');
            },
            (e: unknown) => logger.warn({ err: errorMessage(e), userId: user.userId }, 'WebSocket session check failed'),
          );
        }
      }, options.sessionCheckMs ?? 5000)
    : null;
  sessionCheck?.unref();

  function send(s: Session, frame: WsUpdate): void {
    if (s.closed || s.ws.readyState !== WebSocket.OPEN) return;
    if (s.ws.bufferedAmount > maxBuffered) {
      logger.warn({ userId: s.user?.userId, bufferedAmount: s.ws.bufferedAmount }, 'Closing a WebSocket session that does not read its updates');
      closeSession(s, CLOSE_TRY_LATER, 'Client is not reading its updates fast enough');
      return;
    }
    s.ws.send(JSON.stringify(frame));
  }

  function sendError(s: Session, cmdId: number | null, errorCode: number, errorMsg: string): void {
    send(s, { subscriptionId: cmdId, errorCode, errorMsg, data: null });
  }

  function closeSession(s: Session, code: number, reason: string): void {
    if (s.closed) return;
    s.closed = true;
    cleanup(s);
    // The close reason is limited to 123 bytes by RFC 6455 5.5.
    s.ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
  }

  function cleanup(s: Session): void {
    if (s.authTimer) clearTimeout(s.authTimer);
    s.authTimer = null;
    for (const sub of s.subs.values()) index.remove(sub);
    if (s.countedTenant !== null) {
      bump(tenantSubscriptions, s.countedTenant, -s.subs.size);
      bump(tenantSessions, s.countedTenant, -1);
      s.countedTenant = null;
    }
    s.subs.clear();
    sessions.delete(s);
  }

  /** Authentication failures end the session: an error frame the client can read, then the close. */
  function rejectAuth(s: Session, cmdId: number | null, message: string): void {
    sendError(s, cmdId, WsErrorCodes.UNAUTHORIZED, message);
    closeSession(s, CLOSE_POLICY, message);
  }

  async function authenticate(s: Session, token: string, cmdId: number | null): Promise<boolean> {
    try {
      s.user = await tokens.verifyAccess(token);
    } catch (e) {
      rejectAuth(s, cmdId, errorMessage(e));
      return false;
    }
    if (s.authTimer) clearTimeout(s.authTimer);
    s.authTimer = null;
    return admitToTenant(s, cmdId);
  }

  /**
   * Counts the authenticated session under its tenant; past maxWsSessionsPerTenant it is closed
   * (1008, ThingsBoard's "Max tenant sessions limit reached!"). The system administrator has no tenant and no limit.
   */
  function admitToTenant(s: Session, cmdId: number | null): boolean {
    const user = s.user as AuthUser;
    if (s.countedTenant !== null || user.authority === 'SYS_ADMIN') return true;
    const max = options.tenantLimits?.forTenant(user.tenantId).maxWsSessionsPerTenant ?? 0;
    const open = tenantSessions.get(user.tenantId) ?? 0;
    if (max > 0 && open >= max) {
      logger.info({ tenantId: user.tenantId, userId: user.userId, maxWsSessionsPerTenant: max }, 'WebSocket session refused: tenant at its session limit');
      const message = `Max tenant sessions limit reached! The tenant may have ${max} WebSocket sessions at once (maxWsSessionsPerTenant)`;
      sendError(s, cmdId, WsErrorCodes.BAD_REQUEST, message);
      closeSession(s, CLOSE_POLICY, 'Max tenant sessions limit reached!');
      return false;
    }
    s.countedTenant = user.tenantId;
    bump(tenantSessions, user.tenantId, 1);
    return true;
  }

  function enqueue(s: Session, job: () => Promise<void>): void {
    s.work = s.work
      .then(() => (s.closed ? undefined : job()))
      .catch((e: unknown) => {
        logger.error({ err: errorMessage(e), userId: s.user?.userId }, 'WebSocket command failed');
        sendError(s, null, WsErrorCodes.INTERNAL_ERROR, 'Internal server error');
      });
  }

  async function handleFrame(s: Session, text: string): Promise<void> {
    let json: unknown;
    try {
      // the device API's depth limit: deeper frames would overflow the stack of the schema checks
      json = parseJsonWithDepthLimit(text);
    } catch (e) {
      const message = errorMessage(e);
      return frameError(s, message.startsWith('Invalid JSON') ? message : `Invalid JSON: ${message}`);
    }
    const env = WsClientEnvelopeSchema.safeParse(json);
    if (!env.success) return frameError(s, formatIssues(env.error, 'frame'));
    const frame = env.data;
    if (s.user === null) {
      if (!frame.authCmd) return rejectAuth(s, null, 'Authentication required: the first frame must carry authCmd with a JWT');
      if (!(await authenticate(s, frame.authCmd.token, frame.authCmd.cmdId ?? null))) return;
    }
    const commands: Array<Command | { error: string; cmdId: number | null }> = [];
    for (const raw of frame.cmds ?? []) {
      const r = WsCmdSchema.safeParse(raw);
      if (!r.success) commands.push({ error: formatIssues(r.error, 'cmd'), cmdId: cmdIdOf(raw) });
      else if (r.data.type === 'TIMESERIES_HISTORY') commands.push(historyCommand(r.data));
      else commands.push(subscriptionCommand(r.data.type, r.data));
    }
    for (const raw of frame.tsSubCmds ?? []) {
      const r = WsTsSubCmdSchema.safeParse(raw);
      commands.push(r.success ? subscriptionCommand('TIMESERIES', r.data) : { error: formatIssues(r.error, 'tsSubCmd'), cmdId: cmdIdOf(raw) });
    }
    for (const raw of frame.attrSubCmds ?? []) {
      const r = WsAttrSubCmdSchema.safeParse(raw);
      commands.push(r.success ? subscriptionCommand('ATTRIBUTES', r.data) : { error: formatIssues(r.error, 'attrSubCmd'), cmdId: cmdIdOf(raw) });
    }
    for (const raw of frame.historyCmds ?? []) {
      const r = WsHistoryCmdSchema.safeParse(raw);
      commands.push(r.success ? historyCommand(r.data) : { error: formatIssues(r.error, 'historyCmd'), cmdId: cmdIdOf(raw) });
    }
    for (const c of commands) {
      if (s.closed) return;
      if ('error' in c) sendError(s, c.cmdId, WsErrorCodes.BAD_REQUEST, c.error);
      else await run(s, c);
    }
  }

  function frameError(s: Session, message: string): void {
    if (s.user === null) rejectAuth(s, null, message);
    else sendError(s, null, WsErrorCodes.BAD_REQUEST, message);
  }

  function subscriptionCommand(
    kind: SubscriptionKind,
    c: { cmdId: number; entityType?: string | undefined; entityId?: string | undefined; keys?: string | string[] | undefined; scope?: string | undefined; unsubscribe?: boolean | undefined; startTs?: number | undefined },
  ): Command {
    if (c.unsubscribe === true) return { op: 'unsubscribe', cmdId: c.cmdId };
    const scope = kind === 'ATTRIBUTES' && c.scope !== undefined ? (c.scope as AttributeScope) : null;
    // The schemas guarantee entityType and entityId when not unsubscribing.
    return { op: 'subscribe', kind, cmdId: c.cmdId, entityType: c.entityType ?? '', entityId: (c.entityId ?? '').toLowerCase(), keys: keyList(c.keys), scope, ...(kind === 'TIMESERIES' && c.startTs !== undefined ? { everyPointFrom: c.startTs } : {}) };
  }

  function historyCommand(c: {
    cmdId: number;
    entityType: string;
    entityId: string;
    keys?: string | string[] | undefined;
    startTs: number;
    endTs: number;
    interval?: number | undefined;
    limit?: number | undefined;
    agg?: AggregationName | undefined;
  }): Command {
    return {
      op: 'history',
      cmdId: c.cmdId,
      entityType: c.entityType,
      entityId: c.entityId.toLowerCase(),
      keys: keyList(c.keys),
      startTs: c.startTs,
      endTs: c.endTs,
      interval: c.interval,
      limit: c.limit,
      agg: c.agg,
    };
  }

  /**
   * The entity must be a device the caller may read (the REST access policy: a tenant administrator's
   * devices, a customer user's assigned ones, nothing for the system administrator); otherwise an
   * error frame, and the session stays open.
   */
  async function checkEntity(s: Session, cmdId: number, entityType: string, entityId: string): Promise<boolean> {
    const user = s.user as AuthUser;
    if (!DEVICE_READERS.includes(user.authority)) {
      sendError(s, cmdId, WsErrorCodes.UNAUTHORIZED, "You don't have permission to perform this operation!");
      return false;
    }
    if (entityType.toUpperCase() !== 'DEVICE') {
      sendError(s, cmdId, WsErrorCodes.BAD_REQUEST, `Entity type '${entityType}' is not supported; only DEVICE is`);
      return false;
    }
    try {
      await createAccessPolicy(storage, user).readableDevice(entityId);
    } catch (e) {
      if (!isRivuletError(e)) throw e;
      sendError(s, cmdId, WsErrorCodes.UNAUTHORIZED, `Device ${entityId} not found`);
      return false;
    }
    return true;
  }

  function unsubscribe(s: Session, cmdId: number): void {
    const sub = s.subs.get(cmdId);
    if (!sub) return;
    s.subs.delete(cmdId);
    if (s.countedTenant !== null) bump(tenantSubscriptions, s.countedTenant, -1);
    index.remove(sub);
  }

  async function run(s: Session, c: Command): Promise<void> {
    if (c.op === 'unsubscribe') return unsubscribe(s, c.cmdId);
    if (!(await checkEntity(s, c.cmdId, c.entityType, c.entityId))) return;
    if (c.op === 'history') return history(s, c);

    // A new subscription under a cmdId in use replaces the old one (and does not count twice).
    unsubscribe(s, c.cmdId);
    if (s.subs.size >= maxSubs) {
      sendError(s, c.cmdId, WsErrorCodes.BAD_REQUEST, `Too many subscriptions: at most ${maxSubs} per session`);
      return;
    }
    // The tenant's subscriptions across all its sessions (maxWsSubscriptionsPerTenant): this one is
    // refused with an error frame; the session and its other subscriptions stay.
    const tenantId = s.countedTenant;
    const maxTenantSubs = tenantId !== null ? (options.tenantLimits?.forTenant(tenantId).maxWsSubscriptionsPerTenant ?? 0) : 0;
    if (tenantId !== null && maxTenantSubs > 0 && (tenantSubscriptions.get(tenantId) ?? 0) >= maxTenantSubs) {
      logger.debug({ tenantId, cmdId: c.cmdId, maxWsSubscriptionsPerTenant: maxTenantSubs }, 'WebSocket subscription refused: tenant at its subscription limit');
      sendError(s, c.cmdId, WsErrorCodes.BAD_REQUEST, `Max tenant subscriptions limit reached! The tenant may have ${maxTenantSubs} WebSocket subscriptions at once (maxWsSubscriptionsPerTenant)`);
      return;
    }
    const sub: LiveSubscription = {
      cmdId: c.cmdId,
      kind: c.kind,
      entityId: c.entityId,
      keys: c.keys ? new Set(c.keys) : null,
      scope: c.scope,
      send: (frame) => send(s, frame),
      latest: new Map(),
      pending: [],
      everyPointFrom: c.everyPointFrom,
    };
    // Indexed before the snapshot is read, so nothing written meanwhile is missed; such events wait
    // in `pending` and go out after the snapshot.
    s.subs.set(c.cmdId, sub);
    if (tenantId !== null) bump(tenantSubscriptions, tenantId, 1);
    index.add(sub);
    let snapshot: WsUpdate;
    try {
      snapshot = sub.kind === 'TIMESERIES' ? await timeseriesSnapshot(sub) : await attributesSnapshot(sub);
    } catch (e) {
      unsubscribe(s, c.cmdId);
      throw e;
    }
    // Unsubscribed (or closed) while the snapshot was read.
    if (s.subs.get(c.cmdId) !== sub) return;
    send(s, snapshot);
    index.release(sub);
  }

  async function timeseriesSnapshot(sub: LiveSubscription): Promise<WsUpdate> {
    const latest = await storage.timeseries.findLatest(sub.entityId, sub.keys ? [...sub.keys] : undefined);
    const data: NonNullable<WsUpdate['data']> = {};
    const latestValues: Record<string, number> = {};
    for (const p of latest) {
      setOwn(data, p.key, [[p.ts, kvToString(p.value, p.double)]]);
      setOwn(latestValues, p.key, p.ts);
      sub.latest.set(p.key, p.ts);
    }
    return { subscriptionId: sub.cmdId, errorCode: 0, errorMsg: null, data, latestValues };
  }

  async function attributesSnapshot(sub: LiveSubscription): Promise<WsUpdate> {
    const scopes = sub.scope ? [sub.scope] : ALL_SCOPES;
    const keys = sub.keys ? [...sub.keys] : undefined;
    const found = await Promise.all(scopes.map((scope) => storage.attributes.find(sub.entityId, scope, keys)));
    const data: NonNullable<WsUpdate['data']> = {};
    const latestValues: Record<string, number> = {};
    for (const a of found.flat()) {
      // The same key in two scopes: the newer value wins.
      if (Object.hasOwn(latestValues, a.key) && (latestValues[a.key] as number) > a.lastUpdateTs) continue;
      setOwn(data, a.key, [[a.lastUpdateTs, kvToString(a.value, a.double)]]);
      setOwn(latestValues, a.key, a.lastUpdateTs);
    }
    return { subscriptionId: sub.cmdId, errorCode: 0, errorMsg: null, data, latestValues };
  }

  async function history(s: Session, c: Extract<Command, { op: 'history' }>): Promise<void> {
    if (c.startTs > c.endTs) {
      sendError(s, c.cmdId, WsErrorCodes.BAD_REQUEST, 'startTs must not be after endTs');
      return;
    }
    const result = await storage.timeseries.findHistory(c.entityId, {
      keys: c.keys ?? (await storage.timeseries.findKeys(c.entityId)),
      startTs: c.startTs,
      endTs: c.endTs,
      limit: c.limit ?? 100,
      agg: c.agg ?? 'NONE',
      ...(c.interval !== undefined && c.interval > 0 ? { interval: c.interval } : {}),
    });
    const data: NonNullable<WsUpdate['data']> = {};
    for (const key of Object.keys(result)) {
      setOwn(data, key, (result[key] ?? []).map((p): [number, string | null] => [p.ts, kvToString(p.value, p.double)]));
    }
    send(s, { subscriptionId: c.cmdId, errorCode: 0, errorMsg: null, data });
  }

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    const s: Session = { ws, user: null, countedTenant: null, subs: new Map(), work: Promise.resolve(), authTimer: null, closed: false, alive: true };
    sessions.add(s);
    ws.on('pong', () => {
      s.alive = true;
    });
    ws.on('message', (data: RawData) => {
      const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
      enqueue(s, () => handleFrame(s, text));
    });
    ws.on('close', () => {
      s.closed = true;
      cleanup(s);
    });
    // Protocol errors (oversized frame, bad UTF-8): ws closes the socket itself; only note it.
    ws.on('error', (e) => logger.debug({ err: errorMessage(e) }, 'WebSocket session error'));

    const token = splitUrl(req.url).query.get('token');
    if (token) {
      enqueue(s, async () => {
        await authenticate(s, token, null);
      });
    } else {
      s.authTimer = setTimeout(() => {
        if (s.user === null) rejectAuth(s, null, `Authentication timeout: no authCmd within ${authTimeoutMs} ms`);
      }, authTimeoutMs);
    }
  }

  return {
    handleUpgrade(req, socket, head) {
      const { path } = splitUrl(req.url);
      if (!WS_PATHS.has(path.replace(/\/+$/, ''))) return false;
      if (closed) {
        socket.destroy();
        return true;
      }
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
      return true;
    },

    subscriptionCount() {
      return index.size();
    },

    sessionCount() {
      return sessions.size;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (heartbeat) clearInterval(heartbeat);
      if (sessionCheck) clearInterval(sessionCheck);
      for (const off of unsubscribers) off();
      const open = [...sessions];
      const gone = open.map((s) => new Promise<void>((resolve) => (s.ws.readyState === WebSocket.CLOSED ? resolve() : s.ws.once('close', () => resolve()))));
      for (const s of open) closeSession(s, CLOSE_GOING_AWAY, 'Server shutting down');
      // Give clients a moment to answer the close handshake, then drop whoever has not.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(gone), new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
      if (timer) clearTimeout(timer);
      for (const s of open) if (s.ws.readyState !== WebSocket.CLOSED) s.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
