export * from './types';
export { createMemoryQueue, type MemoryQueueOptions } from './memory-queue';
export { createMemoryBroadcast } from './memory-broadcast';
