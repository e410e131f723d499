import type { WsCmd, WsUpdate } from '@rivulet/api-types';
import { freshToken, hasSession } from './client';

/**
 * One WebSocket per tab (`/api/ws`, ThingsBoard's telemetry API). Pages and widgets subscribe and
 * unsubscribe as they come and go; after a lost connection (server restart, network) it reconnects
 * with back-off and sends every live subscription again.
 */

type SubscribeCmd = Extract<WsCmd, { type: 'TIMESERIES' | 'ATTRIBUTES' }>;
export type SubscriptionSpec = Omit<SubscribeCmd, 'cmdId' | 'unsubscribe'>;
export type HistorySpec = Omit<Extract<WsCmd, { type: 'TIMESERIES_HISTORY' }>, 'cmdId'>;
export type WsData = NonNullable<WsUpdate['data']>;
export type SocketState = 'idle' | 'connecting' | 'open' | 'closed';

interface Sub {
  spec: SubscriptionSpec;
  onData: (data: WsData) => void;
  onError?: ((message: string) => void) | undefined;
}

class TelemetrySocket {
  private ws: WebSocket | null = null;
  private nextCmdId = 1;
  private readonly subs = new Map<number, Sub>();
  private readonly oneOff = new Map<number, { resolve: (d: WsData) => void; reject: (e: Error) => void }>();
  private pending: unknown[] = [];
  private flushScheduled = false;
  private retryMs = 500;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stateValue: SocketState = 'idle';
  private readonly stateListeners = new Set<(s: SocketState) => void>();

  get state(): SocketState {
    return this.stateValue;
  }
  /** Number of live subscriptions (shown in tests and the header's connection indicator). */
  get subscriptionCount(): number {
    return this.subs.size;
  }

  onState(l: (s: SocketState) => void): () => void {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  }

  private setState(s: SocketState): void {
    this.stateValue = s;
    for (const l of this.stateListeners) l(s);
  }

  subscribe(spec: SubscriptionSpec, onData: (data: WsData) => void, onError?: (message: string) => void): () => void {
    const cmdId = this.nextCmdId++;
    this.subs.set(cmdId, { spec, onData, onError });
    this.queue({ ...spec, cmdId });
    return () => {
      if (!this.subs.delete(cmdId)) return;
      this.queue({ type: spec.type, cmdId, unsubscribe: true });
      if (this.subs.size === 0 && this.oneOff.size === 0) this.scheduleIdleClose();
    };
  }

  /** A one-off history read (TIMESERIES_HISTORY), answered once. */
  history(spec: HistorySpec): Promise<WsData> {
    const cmdId = this.nextCmdId++;
    return new Promise<WsData>((resolve, reject) => {
      this.oneOff.set(cmdId, { resolve, reject });
      this.queue({ ...spec, cmdId });
    });
  }

  /** Closes the connection and forgets every subscription (sign-out). */
  reset(): void {
    this.subs.clear();
    for (const p of this.oneOff.values()) p.reject(new Error('signed out'));
    this.oneOff.clear();
    this.pending = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close();
    this.setState('idle');
  }

  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private scheduleIdleClose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.subs.size === 0 && this.oneOff.size === 0 && this.ws) {
        const ws = this.ws;
        this.ws = null;
        ws.close();
        this.setState('idle');
      }
    }, 30_000);
  }

  private queue(cmd: unknown): void {
    this.pending.push(cmd);
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
    if (!this.ws) {
      this.connect();
      return;
    }
    if (this.ws.readyState !== WebSocket.OPEN || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.pending.length === 0) return;
    const cmds = this.pending;
    this.pending = [];
    this.ws.send(JSON.stringify({ cmds }));
  }

  private connect(): void {
    if (this.ws || !hasSession()) return;
    this.setState('connecting');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/api/ws`);
    this.ws = ws;
    ws.onopen = () => {
      void freshToken().then((token) => {
        if (this.ws !== ws) return;
        if (!token) {
          ws.close();
          return;
        }
        this.retryMs = 500;
        // Every live subscription again (after a reconnect the server knows none of them).
        const resend = [...this.subs].map(([cmdId, s]) => ({ ...s.spec, cmdId }));
        const others = this.pending.filter((c) => !(c as { unsubscribe?: boolean }).unsubscribe && !this.subs.has((c as { cmdId: number }).cmdId));
        this.pending = [];
        ws.send(JSON.stringify({ authCmd: { cmdId: 0, token }, cmds: [...resend, ...others] }));
        this.setState('open');
      });
    };
    ws.onmessage = (ev: MessageEvent<string>) => this.onFrame(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setState('closed');
      for (const p of this.oneOff.values()) p.reject(new Error('connection lost'));
      this.oneOff.clear();
      if (this.subs.size === 0 || !hasSession()) return;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.connect();
      }, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
  }

  private onFrame(raw: string): void {
    let msg: WsUpdate;
    try {
      msg = JSON.parse(raw) as WsUpdate;
    } catch {
      return;
    }
    const id = msg.subscriptionId;
    if (id === null || id === undefined) return;
    const once = this.oneOff.get(id);
    if (once) {
      this.oneOff.delete(id);
      if (msg.errorCode !== 0) once.reject(new Error(msg.errorMsg ?? 'history request failed'));
      else once.resolve(msg.data ?? {});
      return;
    }
    const sub = this.subs.get(id);
    if (!sub) return;
    if (msg.errorCode !== 0) sub.onError?.(msg.errorMsg ?? `error ${msg.errorCode}`);
    else if (msg.data) sub.onData(msg.data);
  }
}

/** The tab's one connection. */
export const socket = new TelemetrySocket();
// Tests read the live subscription count through this (no unbounded growth as pages come and go).
(globalThis as { __rivuletSocket?: TelemetrySocket }).__rivuletSocket = socket;
