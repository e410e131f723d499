import type { RpcOutcome, ToDeviceRpcRequest } from '@rivulet/core';
import type { Broadcast } from './channel';
import { DeviceChannel, RpcChannel } from './channels';

export interface RpcCaller {
  /** Sends the request (see RpcChannel in channels.ts for the exchange) and resolves with its outcome; never rejects. */
  call(request: ToDeviceRpcRequest): Promise<RpcOutcome>;
  /** Calls in progress (for tests and stats). */
  pending(): number;
  /** Stops listening; calls in progress end as timeouts. */
  close(): void;
}

export interface RpcCallerOptions {
  broadcast: Broadcast;
  /**
   * How long to wait for a transport to pick the request up before answering "no session", when
   * the session registry says some process holds the device (a device with no session anywhere is
   * answered at once). It covers a session that cannot take commands (MQTT: not subscribed to the
   * RPC topic) and a process that died holding sessions (until its registry entry expires). In
   * one process the pickup arrives within sendToDevice(); across processes it takes a round trip.
   * Default 1000 ms, never longer than the request's own expiration.
   */
  pickupTimeoutMs?: number;
  now?: () => number;
}

interface PendingCall {
  readonly request: ToDeviceRpcRequest;
  readonly resolve: (o: RpcOutcome) => void;
  picked: boolean;
  /** Processes the request went to that have not said "not here" (DeviceChannel.UNDELIVERED). */
  targets: number;
  pickupTimer: ReturnType<typeof setTimeout> | undefined;
  expiryTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The asking side of server-side RPC: sends ToDeviceRpcRequest to the processes holding a session
 * of the device (sendToDevice; none: "no session" at once) with `replyTo` set to this process, and
 * matches the ToDeviceRpcResponse events coming back by requestId. One subscription serves every call.
 */
export function createRpcCaller(options: RpcCallerOptions): RpcCaller {
  const { broadcast } = options;
  const pickupTimeoutMs = options.pickupTimeoutMs ?? 1000;
  const now = options.now ?? Date.now;
  const calls = new Map<string, PendingCall>();

  function finish(requestId: string, outcome: RpcOutcome): void {
    const p = calls.get(requestId);
    if (!p) return;
    calls.delete(requestId);
    if (p.pickupTimer) clearTimeout(p.pickupTimer);
    if (p.expiryTimer) clearTimeout(p.expiryTimer);
    p.resolve(outcome);
  }

  const unsubscribe = broadcast.subscribe(RpcChannel.TO_DEVICE_RESPONSE, (ev) => {
    const p = calls.get(ev.requestId);
    if (!p || ev.deviceId !== p.request.deviceId) return;
    if (ev.error !== undefined) return finish(ev.requestId, { kind: 'error', error: ev.error });
    if (ev.response !== undefined) return finish(ev.requestId, { kind: 'delivered', response: ev.response });
    if (ev.delivered) {
      if (p.request.oneway) return finish(ev.requestId, { kind: 'delivered' });
      p.picked = true;
      if (p.pickupTimer) clearTimeout(p.pickupTimer);
      p.pickupTimer = undefined;
    }
  });

  // A process the registry named had released the device by the time the request arrived.
  const unsubscribeUndelivered = broadcast.subscribe(DeviceChannel.UNDELIVERED, (ev) => {
    if (ev.channel !== RpcChannel.TO_DEVICE.name) return;
    const requestId = (ev.event as { requestId?: unknown } | null)?.requestId;
    const p = typeof requestId === 'string' ? calls.get(requestId) : undefined;
    if (!p || p.picked || ev.deviceId !== p.request.deviceId) return;
    if (--p.targets <= 0) finish(p.request.requestId, { kind: 'no-session' });
  });

  return {
    call(request) {
      return new Promise<RpcOutcome>((resolve) => {
        const remaining = Math.max(0, request.expirationTime - now());
        const p: PendingCall = { request, resolve, picked: false, targets: 0, pickupTimer: undefined, expiryTimer: undefined };
        calls.set(request.requestId, p);
        // Timers first: an in-process transport answers from within sendToDevice().
        p.expiryTimer = setTimeout(() => finish(request.requestId, p.picked ? { kind: 'timeout' } : { kind: 'no-session' }), remaining);
        if (pickupTimeoutMs < remaining) {
          p.pickupTimer = setTimeout(() => {
            if (!p.picked) finish(request.requestId, { kind: 'no-session' });
          }, pickupTimeoutMs);
        }
        // Only the processes holding a session of the device get it; none holds one: answered at once.
        p.targets = broadcast.sendToDevice(RpcChannel.TO_DEVICE, request.deviceId, { ...request, replyTo: broadcast.nodeId });
        if (p.targets === 0) finish(request.requestId, { kind: 'no-session' });
      });
    },
    pending: () => calls.size,
    close() {
      unsubscribe();
      unsubscribeUndelivered();
      for (const id of [...calls.keys()]) finish(id, { kind: 'timeout' });
    },
  };
}
