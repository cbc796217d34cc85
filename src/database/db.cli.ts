import { loadConfig } from '../config/config.js';
import { isMain } from './cli.js';
import { resolveDatabase } from './database-url.js';
import { runMigrations } from './run-migrations.js';

/**
 * `npm run db`: the embedded PostgreSQL alone, migrated, until Ctrl-C. `npm start` in another
 * terminal uses it (and leaves it running when it stops), so writes made while the app is down —
 * with psql, say — wait in the journal and are drained when the app starts again.
 */
export async function runDatabase(env: NodeJS.ProcessEnv = process.env, out: (line: string) => void = console.log): Promise<() => Promise<void>> {
  const config = loadConfig(env);
  if (config.databaseUrl) {
    throw new Error('DATABASE_URL is set: rowcast uses that server, and npm run db runs only the embedded one (unset DATABASE_URL)');
  }
  const database = await resolveDatabase(config);
  await runMigrations(database.url);
  out(
    database.startedHere
      ? `embedded PostgreSQL ready (data in ${config.embeddedPgDir}); Ctrl-C stops it`
      : `embedded PostgreSQL already running (data in ${config.embeddedPgDir}), started by another process: it keeps running after this ends`,
  );
  out(`  psql ${database.url}`);
  out('  npm start (in another terminal) uses it; stop the app, write with psql, start it again: nothing is lost');
  return () => database.stop();
}

if (isMain(import.meta.url)) {
  runDatabase().then(
    (stop) => {
      const shutdown = () => {
        stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
      process.once('SIGHUP', shutdown);
    },
    (error: unknown) => {
      process.stderr.write(`db: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
