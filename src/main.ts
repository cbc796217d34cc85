import 'reflect-metadata';
import net, { type AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { pino } from 'pino';
import { loggerOptions } from './common/logging/logger-options.js';
import { AppConfig, ConfigError, loadConfig } from './config/config.js';
import type { ResolvedDatabase } from './database/database-url.js';

/** The service itself, loaded once the configuration and the port are known to be good: a mistake in either is said at once. */
async function loadService() {
  const [{ NestFactory }, { AppModule }, { configureApp }, { stopAccepting }, { resolveDatabase }, { runMigrations }] = await Promise.all([
    import('@nestjs/core'),
    import('./app.module.js'),
    import('./app.setup.js'),
    import('./common/shutdown/shutdown.js'),
    import('./database/database-url.js'),
    import('./database/run-migrations.js'),
  ]);
  return { NestFactory, AppModule, configureApp, stopAccepting, resolveDatabase, runMigrations };
}

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const log = pino({ ...loggerOptions(config), name: 'rowcast' });
  // Before anything starts (the database, the drainer): a second `npm start` says so and stops.
  await exitIfPortTaken(config);
  const { NestFactory, AppModule, configureApp, stopAccepting, resolveDatabase, runMigrations } = await loadService();

  const database = await resolveDatabase(config, { onLog: (line) => log.debug({ postgres: line }) });
  let app: NestExpressApplication | undefined;
  onShutdown(config.shutdownTimeoutMs, async (signal) => {
    log.info(`${signal} received, shutting down`);
    // Stop accepting first; requests in flight finish. Then Nest's hooks: WebSocket clients are
    // told to reconnect elsewhere, the drain batch in flight commits, pools close.
    if (app) stopAccepting(app, config.shutdownTimeoutMs / 2);
    await app?.close();
    await stopDatabase(database, log);
  }, log);

  if (database.embedded) log.info(`embedded PostgreSQL for direct SQL: psql ${database.url}`);
  await runMigrations(database.url, (message) => log.info(message));
  app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({ config, databaseUrl: database.url, logger: log }),
    { bufferLogs: true, bodyParser: false },
  );
  configureApp(app, config);
  await app.listen(config.port, config.host);
  log.info(readyLine(config, database, (app.getHttpServer().address() as AddressInfo).port));
}

async function stopDatabase(database: ResolvedDatabase, log: pino.Logger): Promise<void> {
  if (!database.embedded) return;
  if (!database.startedHere) {
    log.info('app closed; the embedded PostgreSQL was started by another process (npm run db) and keeps running');
    return;
  }
  log.info('app closed; stopping the embedded PostgreSQL');
  await database.stop();
  log.info('embedded PostgreSQL stopped');
}

async function exitIfPortTaken(config: AppConfig): Promise<void> {
  if (config.port === 0) return;
  const taken = await new Promise<boolean>((resolve) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    probe.listen(config.port, config.host, () => probe.close(() => resolve(false)));
  });
  if (!taken) return;
  process.stderr.write(
    `rowcast did not start: port ${config.port} on ${config.host} is in use (another rowcast?); stop it, or set PORT to another port (PORT=0 picks a free one)\n`,
  );
  process.exit(1);
}

function loadConfigOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

function readyLine(config: AppConfig, database: ResolvedDatabase, port: number): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const db = database.embedded ? `embedded PostgreSQL (${config.embeddedPgDir})` : 'DATABASE_URL';
  return `rowcast ready on ${db}: dashboard ${base}/ · API docs ${base}/docs · WebSocket ${base}/events`;
}

/**
 * Ctrl-C, SIGTERM or SIGHUP (the terminal closed): close the app, then the embedded database;
 * once, and within the bound.
 * Nothing committed is lost by a cut-short shutdown: the next start resumes from the journal.
 */
function onShutdown(timeoutMs: number, close: (signal: string) => Promise<void>, log: pino.Logger): void {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      setTimeout(() => {
        log.error(`shutdown took longer than ${timeoutMs} ms (SHUTDOWN_TIMEOUT_MS); exiting now`);
        process.exit(1);
      }, timeoutMs).unref();
      close(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`rowcast failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
