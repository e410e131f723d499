import type { Logger } from '@rivulet/core';

/** Exit code after an unhandled rejection or exception (EX_SOFTWARE): the supervisor sees a failure and restarts. */
export const CRASH_EXIT_CODE = 70;

/**
 * An unhandled promise rejection or an uncaught exception leaves the process in a state nobody
 * designed for (a half-finished write, a consumer that stopped, a lock never released): it is logged
 * and the process exits non-zero at once, so a supervisor (systemd, Kubernetes, docker
 * restart policy) starts a clean one. No graceful drain is tried: it would run on the broken state.
 * The logger must write synchronously (pino's default destination does) so the line is not lost.
 */
export function installCrashPolicy(logger: Logger, exit: (code: number) => never = (code) => process.exit(code)): void {
  let crashing = false;
  const crash = (kind: string, err: unknown): void => {
    // a second failure while logging the first: exit all the same
    if (crashing) exit(CRASH_EXIT_CODE);
    crashing = true;
    try {
      logger.error({ err, kind }, 'process failed: exiting for a clean restart');
    } finally {
      exit(CRASH_EXIT_CODE);
    }
  };
  process.on('unhandledRejection', (reason) => crash('unhandledRejection', reason));
  process.on('uncaughtException', (err) => crash('uncaughtException', err));
}
