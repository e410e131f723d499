import { isMsg, type Msg } from '@rivulet/core';

/**
 * A message the rule engine gave up on: its chain kept failing until the processing strategy's
 * retries were used up, or it was still running when the batch's pack timeout passed. Written to
 * the rule engine's dead-letter topic (`rivulet.rule-engine.dlq`, keyed by originator) before the
 * batch is committed, so it can be inspected and replayed (the message goes back on the rule-engine topic).
 */
export interface DeadLetter {
  readonly kind: 'rule-engine.dead-letter';
  readonly msg: Msg;
  readonly reason: 'failed' | 'timed-out';
  /** The last attempt's error. */
  readonly error: string;
  /** The chain the last attempt ran in, when it got that far. */
  readonly chainId?: string | undefined;
  /** Attempts made (1 + retries). */
  readonly attempts: number;
  /** When it was given up (ms since epoch). */
  readonly ts: number;
}

export function isDeadLetter(v: unknown): v is DeadLetter {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return d.kind === 'rule-engine.dead-letter' && isMsg(d.msg) && (d.reason === 'failed' || d.reason === 'timed-out') && typeof d.error === 'string';
}

/** The dead-letter topic of a rule-engine topic (the Kafka queue's undecodable records go there too). */
export const deadLetterTopicOf = (topic: string): string => `${topic}.dlq`;

/** One record of the dead-letter topic as the admin API lists it. */
export interface DeadLetterEntry {
  /** `<partition>:<offset>` in the dead-letter topic: what replay takes. */
  readonly id: string;
  readonly partition: number;
  readonly offset: number;
  /** The engine's dead letter; absent for a record that is not one (the Kafka queue's undecodable records). */
  readonly deadLetter?: DeadLetter;
  /** Such a record's value, as received. */
  readonly raw?: unknown;
}
