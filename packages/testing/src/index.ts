export * from './postgres-server';
export * from './databases';
export * from './device-fixtures';
export * from './listeners';
export * from './certificates';
export * from './browser';
export * from './fuzz';
export * from './tenant-limits';
