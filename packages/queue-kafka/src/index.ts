export { createKafkaQueue, type KafkaQueue } from './kafka-queue';
export type { KafkaQueueOptions, CommitMode } from './options';
export { replayable, type DeadLetterRecord, type ReplayResult } from './dead-letters';
