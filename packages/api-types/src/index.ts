export * from './common.schema';
export * from './auth.schema';
export * from './device.schema';
export * from './telemetry.schema';
export * from './ws.schema';
export * from './rule-chain.schema';
export * from './alarm.schema';
export * from './dashboard.schema';
