export * from './types';
export { createMqttClient, type MqttClientOptions } from './mqtt-client';
export { createHttpClient, type HttpClientOptions } from './http-client';
export { createCoapClient, type CoapClientOptions } from './coap-client';
