export {
  createHttpTransport,
  type HttpTransport,
  type HttpTransportOptions,
  type HttpTransportStats,
  type RejectReason,
} from './http-transport';
export { API_PREFIX } from './device-route';
