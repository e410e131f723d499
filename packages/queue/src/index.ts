export * from './types';
export { QueueClosedError } from './errors';
export {
  createMemoryQueue,
  type MemoryQueue,
  type MemoryQueueOptions,
  type MemoryPartitionStats,
} from './memory-queue';
