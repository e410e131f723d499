export { createKafkaBroadcast, type KafkaBroadcast, type KafkaBroadcastOptions } from './kafka-broadcast';
export { broadcastTopics, defaultNodeId, type BroadcastTopics } from './topics';
