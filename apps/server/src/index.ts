export { startRivulet, type Rivulet, type StartOptions } from './app';
export { loadConfig, configReference, ConfigSchema, type Config } from './config';
