import { errorMessage, silentLogger, type JsonValue, type Logger } from '@rivulet/core';
import type { DebugSink, NodeTrace } from './chain';

/**
 * ThingsBoard's DEBUG_RULE_NODE event: a message going into a node (IN) or leaving it by a relation
 * (OUT). The same fields as storage's DebugEventRecord, so the server hands these to it as they are.
 */
export interface DebugEvent {
  tenantId: string;
  chainId: string;
  nodeIndex: number;
  nodeName: string;
  nodeType: string;
  ts: number;
  direction: 'IN' | 'OUT';
  relation: string | null;
  msgId: string;
  msgType: string;
  originatorType: string;
  originatorId: string;
  data: JsonValue;
  metadata: Record<string, string>;
  error: string | null;
  durationMs: number | null;
}

/** One IN event for the input and one OUT event per route (a failing node: its Failure route with the error). */
export function traceToEvents(t: NodeTrace): DebugEvent[] {
  const base = { tenantId: t.msgIn.tenantId, chainId: t.chainId, nodeIndex: t.nodeIndex, nodeName: t.nodeName, nodeType: t.nodeType };
  const out: DebugEvent[] = [
    {
      ...base,
      ts: t.startTs,
      direction: 'IN',
      relation: null,
      msgId: t.msgIn.id,
      msgType: t.msgIn.type,
      originatorType: t.msgIn.originator.entityType,
      originatorId: t.msgIn.originator.id,
      data: t.msgIn.data,
      metadata: { ...t.msgIn.metadata },
      error: null,
      durationMs: null,
    },
  ];
  const endTs = t.startTs + Math.round(t.durationMs);
  for (const r of t.routes) {
    out.push({
      ...base,
      ts: endTs,
      direction: 'OUT',
      relation: r.relation,
      msgId: r.msg.id,
      msgType: r.msg.type,
      originatorType: r.msg.originator.entityType,
      originatorId: r.msg.originator.id,
      data: r.msg.data,
      metadata: { ...r.msg.metadata },
      error: r.relation === 'Failure' ? t.error : null,
      durationMs: t.durationMs,
    });
  }
  // A node that failed without routing anywhere still leaves a trace of its error.
  if (t.routes.length === 0 && t.error !== null) out[0] = { ...out[0]!, error: t.error };
  return out;
}

export interface BatchedDebugSinkOptions {
  /** Stores one batch (the server: storage.debugEvents.saveBatch with the per-node cap). */
  write(events: DebugEvent[]): Promise<void>;
  /** Events per write; a full batch is written at once. Default 500. */
  maxBatch?: number;
  /** A partial batch waits at most this long. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Events held while writes lag; beyond it new events are dropped (and counted). Default 20,000. */
  maxPending?: number;
  logger?: Logger;
}

export interface BatchedDebugSink extends DebugSink {
  /** Writes what is buffered; resolves when written (or failed). */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
  stats(): { recorded: number; written: number; dropped: number; failed: number };
}

/**
 * Debug events off the hot path: record() only converts and buffers; one write at a time drains the
 * buffer in batches. Best effort by design: when storage lags, events are dropped rather than
 * slowing messages down or growing memory without bound.
 */
export function createBatchedDebugSink(options: BatchedDebugSinkOptions): BatchedDebugSink {
  const maxBatch = Math.max(1, options.maxBatch ?? 500);
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  const maxPending = Math.max(maxBatch, options.maxPending ?? 20_000);
  const logger = (options.logger ?? silentLogger).child({ component: 'debug-sink' });
  const counters = { recorded: 0, written: 0, dropped: 0, failed: 0 };
  let pending: DebugEvent[] = [];
  let writing: Promise<void> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let lastDropWarning = 0;
  let lastWriteWarning = 0;
  let closed = false;

  async function writeAll(): Promise<void> {
    while (pending.length > 0) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      try {
        await options.write(batch);
        counters.written += batch.length;
      } catch (e) {
        counters.failed += batch.length;
        // Failures come in storms (the database is down): one line per interval, with the totals.
        const now = Date.now();
        if (now - lastWriteWarning > 10_000) {
          lastWriteWarning = now;
          logger.warn({ err: errorMessage(e), failed: counters.failed }, 'debug events not stored');
        }
      }
    }
  }

  /** One writer at a time; events recorded meanwhile join its next batch. */
  function drain(): Promise<void> {
    writing ??= writeAll().finally(() => {
      writing = undefined;
    });
    return writing;
  }

  return {
    record(trace) {
      if (closed) return;
      const events = traceToEvents(trace);
      if (pending.length + events.length > maxPending) {
        counters.dropped += events.length;
        const now = Date.now();
        if (now - lastDropWarning > 10_000) {
          lastDropWarning = now;
          logger.warn({ dropped: counters.dropped, pending: pending.length }, 'debug events dropped: storage is behind');
        }
        return;
      }
      for (const e of events) pending.push(e);
      counters.recorded += events.length;
      if (!timer && flushIntervalMs > 0) {
        timer = setInterval(() => {
          if (pending.length > 0) void drain();
        }, flushIntervalMs);
        timer.unref?.();
      }
      if (pending.length >= maxBatch) void drain();
    },
    async flush() {
      while (writing || pending.length > 0) await drain();
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      while (writing || pending.length > 0) await drain();
    },
    stats: () => ({ ...counters }),
  };
}
