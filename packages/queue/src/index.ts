export * from './types';
export { QueueClosedError } from './errors';
export {
  createMemoryQueue,
  type MemoryQueue,
  type MemoryQueueOptions,
  type MemoryPartitionStats,
  MAX_MEMORY_DEAD_LETTERS,
} from './memory-queue';
export { WIRE_VERSION, MAX_WIRE_BYTES, WireDecodeError, WireEncodeError, encodeValue, decodeValue } from './wire';
