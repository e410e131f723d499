export {
  createCoapTransport,
  type CoapTransport,
  type CoapTransportConfig,
  type CoapTransportOptions,
  type CoapTransportStats,
  type RejectReason,
} from './coap-transport';
export { ExchangeStore, EXCHANGE_LIFETIME_MS, DEFAULT_DEDUP_MAX_ENTRIES, type ExchangeStoreOptions } from './exchange-store';
export { Code, MessageType, decodeMessage, encodeMessage, type DecodedMessage, type EncodeInput } from './coap-message';
