export {
  createTransportService,
  rateLimitString,
  type DownlinkHandlers,
  type SessionLimits,
  type PendingRpcCall,
  type TransportService,
  type TransportServiceOptions,
  type TransportServiceStats,
} from './transport-service';
export { FeatureUnavailableError, ProvisionRateLimitError, QueueRejectedError, type OptionalFeature } from './errors';
export { parseClaimRequest, claimRequestOf, type ClaimRequest } from './claim-request';
export { createAddressRateLimit, addressKey, type AddressRateLimit } from './address-rate-limit';
export { type RpcEvents } from './rpc-events';
export { DeviceRpcCalls, type DeviceRpcCall } from './device-rpc-calls';
