import { pino } from 'pino';
import type { Logger } from '@rivulet/core';

/** Structured JSON logs on stdout (pino); the only place a concrete logger is made. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'rivulet' }, timestamp: pino.stdTimeFunctions.isoTime }) as unknown as Logger;
}
