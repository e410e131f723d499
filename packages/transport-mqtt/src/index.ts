export {
  createMqttTransport,
  type MqttTransport,
  type MqttTransportConfig,
  type MqttTransportOptions,
  type MqttTransportStats,
} from './mqtt-transport';
export { BadInput } from './context';
export { Topic } from './topics';
