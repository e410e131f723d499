import { queueContract } from '@rivulet/queue/contract';
import type { DeadLetter } from '@rivulet/queue';
import { inject } from 'vitest';
import { createKafkaQueue } from './kafka-queue';

// The shared queue contract against the run's real broker (global setup, inject('kafkaBrokers')).
queueContract(
  'kafka',
  async () => {
    const queue = createKafkaQueue({
      brokers: inject('kafkaBrokers').split(','),
      clientId: 'contract',
      sessionTimeout: 6_000,
      heartbeatInterval: 500,
      retryBackoffMs: 10,
    });
    return {
      queue,
      deadLetters: async (topic) => (await queue.readDeadLetters(topic)).map((r) => r.value as DeadLetter),
      cleanup: () => queue.close(),
    };
  },
  { deliveryTimeoutMs: 30_000, testTimeoutMs: 90_000, quietMs: 1_000 },
);
