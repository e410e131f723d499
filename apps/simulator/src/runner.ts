import type { DeviceConnection, SendKind } from './clients/types';
import type { DeviceSeries } from './templates';
import { createHistogram, type Histogram } from './histogram';

export interface SimTarget {
  name: string;
  conn: DeviceConnection;
  series: DeviceSeries;
}

export interface RunOptions {
  targets: readonly SimTarget[];
  /** Messages per second over all devices; 0: as fast as acknowledgements allow. */
  rate: number;
  /** Unacknowledged messages per device at most (QoS 1 in-flight window; HTTP/CoAP requests in flight). */
  inflight: number;
  durationS: number;
  /** Stop after this many messages (0: no limit). */
  maxMessages?: number;
  /** After the load, how long to wait for outstanding acknowledgements. */
  drainTimeoutMs?: number;
  kind?: SendKind;
  /** Called about every progressIntervalMs. */
  onProgress?: (p: Progress) => void;
  progressIntervalMs?: number;
  /** Called with each acknowledged message's send time (ms, `now` clock) and ts of its last group. */
  onAck?: (sentAt: number, lastTs: number | undefined, device: SimTarget) => void;
  now?: () => number;
  wallClock?: () => number;
}

export interface Progress {
  elapsedS: number;
  sent: number;
  acked: number;
  errors: number;
  inflight: number;
  /** Acknowledgements per second since the previous report. */
  ackRate: number;
  points: number;
}

export interface RunSummary {
  devices: number;
  durationS: number;
  sent: number;
  acked: number;
  errors: number;
  errorsByCode: Record<string, number>;
  firstError: string | undefined;
  /** Sent but neither acknowledged nor failed when the drain timed out. */
  unanswered: number;
  pointsSent: number;
  pointsAcked: number;
  ackedPerS: number;
  pointsAckedPerS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  histogram: ReturnType<Histogram['toJSON']>;
  /** Highest ts sent by any device: a later run passes it as its floor. */
  lastTs: number;
  /** Devices that stopped because their connection was lost. */
  lostDevices: number;
}

interface Slot {
  target: SimTarget;
  inflight: number;
  dead: boolean;
}

/**
 * Drives connected devices: open loop at `rate` (spread round-robin, each device bounded by its
 * in-flight window), or closed loop (rate 0) where every acknowledgement releases the next message.
 * Every loop is bounded: by the duration, the message limit and the drain timeout.
 */
export function runLoad(opts: RunOptions): Promise<RunSummary> {
  const now = opts.now ?? (() => performance.now());
  const wall = opts.wallClock ?? Date.now;
  const kind = opts.kind ?? 'telemetry';
  const inflightCap = Math.max(1, Math.floor(opts.inflight));
  const maxMessages = opts.maxMessages && opts.maxMessages > 0 ? opts.maxMessages : Infinity;
  const slots: Slot[] = opts.targets.map((target) => ({ target, inflight: 0, dead: false }));
  const hist = createHistogram();
  const errorsByCode: Record<string, number> = {};
  let firstError: string | undefined;
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let pointsSent = 0;
  let pointsAcked = 0;
  let inflight = 0;
  let stopped = false;
  let rr = 0;
  let deadSlots = 0;
  const t0 = now();
  const endAt = t0 + opts.durationS * 1000;

  return new Promise<RunSummary>((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    let tick: NodeJS.Timeout | undefined;
    let finished = false;
    let loadEnd = endAt;

    const finish = () => {
      if (finished) return;
      finished = true;
      if (tick) clearTimeout(tick);
      if (drainTimer) clearTimeout(drainTimer);
      clearInterval(progress);
      report();
      const durationS = (loadEnd - t0) / 1000;
      resolve({
        devices: slots.length,
        durationS,
        sent,
        acked,
        errors,
        errorsByCode,
        firstError,
        unanswered: inflight,
        pointsSent,
        pointsAcked,
        ackedPerS: durationS > 0 ? acked / durationS : 0,
        pointsAckedPerS: durationS > 0 ? pointsAcked / durationS : 0,
        latencyMs: { p50: hist.quantile(0.5), p90: hist.quantile(0.9), p99: hist.quantile(0.99), max: hist.max, mean: hist.mean },
        histogram: hist.toJSON(),
        lastTs: slots.reduce((m, s) => Math.max(m, s.target.series.lastTs), 0),
        lostDevices: slots.filter((s) => s.dead).length,
      });
    };

    const stop = () => {
      if (stopped) return;
      stopped = true;
      loadEnd = Math.min(now(), Math.max(loadEnd, t0));
      if (inflight === 0) return finish();
      drainTimer = setTimeout(finish, opts.drainTimeoutMs ?? 30_000);
    };

    const sendOne = (slot: Slot): void => {
      const msg = slot.target.series.next(wall());
      const sentAt = now();
      slot.inflight++;
      inflight++;
      sent++;
      pointsSent += msg.points;
      let sync = true;
      const done = (err?: Error) => {
        slot.inflight--;
        inflight--;
        if (err) {
          errors++;
          const code = (err as { code?: string }).code ?? 'ERROR';
          errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
          firstError ??= err.message;
          if ((code === 'DISCONNECTED' || code === 'PUBLISH_FAILED') && !slot.dead) {
            slot.dead = true;
            if (++deadSlots === slots.length) stop();
          }
        } else {
          acked++;
          pointsAcked += msg.points;
          hist.record(now() - sentAt);
          opts.onAck?.(sentAt, msg.lastTs, slot.target);
        }
        if (stopped) {
          if (inflight === 0) finish();
          return;
        }
        if (opts.rate === 0 && !slot.dead) {
          // Closed loop: the acknowledgement releases the next message (deferred when it came synchronously).
          if (sync) setImmediate(() => refill(slot));
          else refill(slot);
        }
      };
      slot.target.conn.send(kind, msg.payload, done);
      sync = false;
    };

    const refill = (slot: Slot): void => {
      while (!stopped && !slot.dead && slot.inflight < inflightCap) {
        if (sent >= maxMessages) return stop();
        if (now() >= endAt) return stop();
        sendOne(slot);
      }
    };

    // Open loop: every millisecond, send what the schedule says is due.
    let due = 0;
    const pace = (): void => {
      tick = undefined;
      if (stopped) return;
      const wall = now();
      if (sent >= maxMessages) return stop();
      // The last tick sends what was due up to the end itself, so a run sends rate x duration.
      const ending = wall >= endAt;
      const t = ending ? endAt : wall;
      due = Math.min(maxMessages, Math.floor(((t - t0) / 1000) * opts.rate));
      // At most one full round of in-flight windows per tick (bounded), so a stalled server cannot make it spin.
      let budget = slots.length * inflightCap;
      let misses = 0;
      while (sent < due && budget-- > 0 && misses < slots.length) {
        const slot = slots[rr]!;
        rr = (rr + 1) % slots.length;
        if (slot.dead || slot.inflight >= inflightCap) {
          misses++;
          continue;
        }
        misses = 0;
        sendOne(slot);
      }
      if (ending) return stop();
      tick = setTimeout(pace, 1);
    };

    let lastReport = t0;
    let lastAcked = 0;
    const report = () => {
      if (!opts.onProgress) return;
      const t = now();
      const dt = (t - lastReport) / 1000;
      opts.onProgress({ elapsedS: (t - t0) / 1000, sent, acked, errors, inflight, ackRate: dt > 0 ? (acked - lastAcked) / dt : 0, points: pointsAcked });
      lastReport = t;
      lastAcked = acked;
    };
    const progress = setInterval(report, opts.progressIntervalMs ?? 1000);

    if (slots.length === 0 || opts.durationS <= 0) {
      stopped = true;
      return finish();
    }
    if (opts.rate > 0) pace();
    else {
      for (const s of slots) refill(s);
      // The end of the run is also a timer, so an idle closed loop (all waiting) still stops on time.
      tick = setTimeout(stop, Math.max(0, endAt - now()));
    }
  });
}
