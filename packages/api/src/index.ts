export { createApi, isApiPath, DEFAULT_MAX_BODY_BYTES, DEFAULT_REFRESH_TOKEN_TTL_SECONDS, DEFAULT_TOKEN_TTL_SECONDS, type Api, type ApiOptions } from './api';
export { hashPassword, verifyPassword } from './password';
export { bootstrapTenant, DEFAULT_ADMIN_EMAIL, DEFAULT_TENANT_TITLE, type BootstrapTenantOptions, type BootstrapTenantResult } from './bootstrap';
export { bootstrapSysAdmin, DEFAULT_SYSADMIN_EMAIL, type BootstrapSysAdminOptions, type BootstrapSysAdminResult } from './bootstrap';
export { ApiError, toErrorResponse } from './api-error';
export type { AuthUser } from './tokens';
export type { RuleChainsPort } from './rule-chains-port';
export { toRuleChainExport } from './routes/rule-chain.routes';
export { mqttBasicCredentialsId, checkBasicMqttCredentials, parseBasicMqttCredentials, type BasicMqttCredentials } from './mqtt-basic-credentials';
