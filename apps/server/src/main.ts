import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';
import { startRivulet } from './app';
import { PRIVATE_UMASK } from './data-dir';
import { installCrashPolicy } from './crash-policy';

/** `npm start`: one process, every role, embedded defaults unless configured otherwise. */
async function main(): Promise<void> {
  // Everything this process creates (the data directory, PGlite's files, the JWT secret) is owner-only.
  process.umask(PRIVATE_UMASK);
  let config;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\nSee docs/configuration.md.\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.RIVULET_LOG_LEVEL);
  // an unhandled rejection or exception: logged, then exit non-zero for the supervisor to restart
  installCrashPolicy(logger);
  let app;
  try {
    app = await startRivulet(config, { logger });
  } catch (e) {
    // settings that are only checked when used (a TLS certificate and key that do not load or match)
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\nSee docs/configuration.md.\n`);
      process.exit(2);
    }
    throw e;
  }
  if (app.generatedAdminPassword) {
    // Printed once, on the first start, to the terminal (not into the JSON log stream).
    process.stderr.write(
      `\n  Rivulet created the administrator ${config.RIVULET_ADMIN_EMAIL}\n  with the generated password: ${app.generatedAdminPassword}\n  (shown once; set RIVULET_ADMIN_PASSWORD to choose it)\n\n`,
    );
  }
  if (app.generatedSysAdminPassword) {
    process.stderr.write(
      `\n  Rivulet created the system administrator ${config.RIVULET_SYSADMIN_EMAIL}\n  with the generated password: ${app.generatedSysAdminPassword}\n  (shown once; set RIVULET_SYSADMIN_PASSWORD to choose it)\n\n`,
    );
  }
  const tlsNote = app.httpsUrl ? `, ${app.httpsUrl} and MQTT over TLS on port ${app.mqttTlsPort ?? '-'}` : '';
  process.stderr.write(`Rivulet is listening on ${app.url}${tlsNote} (storage: ${app.storage.kind}, queue: ${app.queue.kind})\n`);
  let signals = 0;
  const shutdown = (signal: string) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // a renewed certificate: read the files again for new connections (no restart, sessions stay)
  if (app.httpsUrl) process.on('SIGHUP', () => app.reloadTls());
}

main().catch((e: unknown) => {
  process.stderr.write(`Rivulet failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
