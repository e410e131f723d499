export { createOutbound, type OutboundOptions } from './outbound';
export { createOutboundPolicy, parseOutboundEntry, DEFAULT_DENIED, type OutboundPolicy, type OutboundPolicyOptions, type Verdict } from './policy';
export { connectChecked, type CheckedConnectOptions } from './connect';
export { checkedHttp, createCheckedAgents, type CheckedAgents } from './http';
export { checkedMqtt } from './mqtt';
export { checkedKafkaSocketFactory, parseBrokers } from './kafka';
export { createKafkaService, DEFAULT_RESERVED_TOPIC_PREFIXES, type KafkaServiceOptions } from './kafka-service';
export { OutboundDeniedError } from '@rivulet/rule-engine';
