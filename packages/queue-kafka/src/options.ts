import { ErrorCode, RivuletError, silentLogger, type Logger } from '@rivulet/core';
import { Groups, Topics } from '@rivulet/queue';

/** When a consumed record's offset is committed. */
export type CommitMode = 'after-processing' | 'on-receipt';

/** Options of createKafkaQueue. Only `brokers` and `clientId` are required. */
export interface KafkaQueueOptions {
  /** Bootstrap brokers, `host:port` each. */
  brokers: string[];
  /** Kafka client id (shows in broker logs and group descriptions), e.g. `rivulet-<node id>`. */
  clientId: string;
  /**
   * Prepended to every topic and consumer group name (RIVULET_QUEUE_PREFIX), so several
   * deployments or test runs can share one broker. Default '' (topics `rivulet.rule-engine`, ...).
   */
  topicPrefix?: string;
  /**
   * 'after-processing' (default, at-least-once): the offset is committed after the handler
   * resolves; a crash repeats the uncommitted batch. 'on-receipt' (at-most-once): committed before
   * the handler runs; a crash loses the batch in hand, never repeats it.
   */
  commitMode?: CommitMode;
  /**
   * Backpressure bound (RIVULET_QUEUE_MAX_LAG, default 100 000): while a consuming group named in
   * `backpressureGroups` lags more than this many records behind a topic, produce() to that topic
   * waits (checked every `lagCheckMs`), as produce waits on a full memory queue.
   */
  maxLag?: number;
  /**
   * Which groups' lag gates produce(), per topic (logical names). Default: the rule-engine group
   * on the rule-engine topic. Topics not listed are never held back.
   */
  backpressureGroups?: Record<string, string[]>;
  /** How often the lag is measured while producers are active, ms. Default 500. */
  lagCheckMs?: number;
  /**
   * Deliveries of a failing batch before its records go to the dead-letter topic `<topic>.dlq`
   * (each record then gets one last try on its own first, so one poison record does not take its
   * neighbours along). Default 10.
   */
  maxDeliveries?: number;
  /** Consumer session timeout, ms (a dead consumer's partitions move after this). Default 10 000. */
  sessionTimeout?: number;
  /** Consumer heartbeat interval, ms; also sent while a handler runs. Default 1 000. */
  heartbeatInterval?: number;
  /** Partitions of the topics this queue creates. Default 8. */
  partitions?: number;
  /** First redelivery delay after a handler fails; doubles per failure up to 5 000 ms. Default 100. */
  retryBackoffMs?: number;
  /** Partitions one subscription processes at the same time. Default 4. */
  partitionsConsumedConcurrently?: number;
  logger?: Logger;
}

export interface Settings {
  readonly brokers: string[];
  readonly clientId: string;
  readonly prefix: string;
  readonly commitMode: CommitMode;
  readonly maxLag: number;
  readonly backpressureGroups: Record<string, string[]>;
  readonly lagCheckMs: number;
  readonly maxDeliveries: number;
  readonly sessionTimeout: number;
  readonly heartbeatInterval: number;
  readonly partitions: number;
  readonly retryBackoffMs: number;
  readonly concurrency: number;
  readonly log: Logger;
}

function invalid(message: string, details: Record<string, unknown>): RivuletError {
  return new RivuletError(ErrorCode.INVALID_CONFIG, message, { details });
}

function int(name: string, value: number | undefined, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  if (!Number.isInteger(value) || value < min) throw invalid(`Kafka queue option ${name} must be an integer >= ${min}`, { [name]: value });
  return value;
}

export const MAX_RETRY_BACKOFF_MS = 5_000;

export function settingsOf(o: KafkaQueueOptions): Settings {
  if (!Array.isArray(o.brokers) || o.brokers.length === 0 || o.brokers.some((b) => typeof b !== 'string' || !/^[^\s:]+:\d+$/.test(b.trim()))) {
    throw invalid('Kafka queue option brokers must be a non-empty list of host:port', { brokers: o.brokers });
  }
  if (typeof o.clientId !== 'string' || o.clientId.trim() === '') throw invalid('Kafka queue option clientId must be a non-empty string', {});
  const prefix = o.topicPrefix ?? '';
  if (!/^[a-zA-Z0-9._-]*$/.test(prefix)) throw invalid('Kafka queue option topicPrefix may only contain [a-zA-Z0-9._-]', { topicPrefix: prefix });
  const commitMode = o.commitMode ?? 'after-processing';
  if (commitMode !== 'after-processing' && commitMode !== 'on-receipt') {
    throw invalid("Kafka queue option commitMode must be 'after-processing' or 'on-receipt'", { commitMode });
  }
  const sessionTimeout = int('sessionTimeout', o.sessionTimeout, 10_000, 1_000);
  const heartbeatInterval = int('heartbeatInterval', o.heartbeatInterval, Math.min(1_000, Math.floor(sessionTimeout / 3)), 100);
  if (heartbeatInterval >= sessionTimeout) throw invalid('Kafka queue heartbeatInterval must be below sessionTimeout', { heartbeatInterval, sessionTimeout });
  return {
    brokers: o.brokers.map((b) => b.trim()),
    clientId: o.clientId,
    prefix,
    commitMode,
    maxLag: int('maxLag', o.maxLag, 100_000, 1),
    backpressureGroups: o.backpressureGroups ?? { [Topics.RULE_ENGINE]: [Groups.RULE_ENGINE] },
    lagCheckMs: int('lagCheckMs', o.lagCheckMs, 500, 10),
    maxDeliveries: int('maxDeliveries', o.maxDeliveries, 10, 1),
    sessionTimeout,
    heartbeatInterval,
    partitions: int('partitions', o.partitions, 8, 1),
    retryBackoffMs: int('retryBackoffMs', o.retryBackoffMs, 100, 0),
    concurrency: int('partitionsConsumedConcurrently', o.partitionsConsumedConcurrently, 4, 1),
    log: (o.logger ?? silentLogger).child({ component: 'kafka-queue' }),
  };
}

/** Topic and group names Kafka accepts. */
export function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !/^[a-zA-Z0-9._-]{1,200}$/.test(name)) {
    throw new RivuletError(ErrorCode.BAD_REQUEST, `Kafka ${what} name must be 1-200 characters of [a-zA-Z0-9._-]`, { details: { [what]: name } });
  }
  return name;
}
