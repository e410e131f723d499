export * from './postgres-server';
export * from './databases';
