import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../config/config.js';
import { resolveDatabase } from './database-url.js';
import { runMigrations } from './run-migrations.js';

export interface CliResult {
  /** What the command prints on stdout (a script may capture it). */
  out: string;
  /** Said to the person at the terminal, on stderr. */
  info?: string;
}

/**
 * The frame of `npm run capture` and `npm run keys`: parse the arguments (a string is a usage
 * error: exit 2), run the command on one connection to DATABASE_URL or the embedded database
 * (exit 0), and turn any failure into one line `<name>: <reason>` (exit 1).
 */
export function runCli<C>(options: {
  name: string;
  parse: (args: string[]) => C | string;
  run: (command: C, client: pg.Client) => Promise<CliResult>;
  /** Migrate first (the command may come before the service's first start). */
  migrate?: boolean;
  /** A clearer line for a failure the command expects (a PostgreSQL error, say). */
  explain?: (error: unknown) => string | undefined;
}): void {
  const main = async (): Promise<number> => {
    const command = options.parse(process.argv.slice(2));
    if (typeof command === 'string') {
      process.stderr.write(`${command}\n`);
      return 2;
    }
    const database = await resolveDatabase(loadConfig(), { keepSignalHandlers: true });
    const client = new pg.Client({ connectionString: database.url, application_name: `rowcast-${options.name}-cli` });
    try {
      if (options.migrate) await runMigrations(database.url);
      await client.connect();
      const { out, info } = await options.run(command, client);
      if (info) process.stderr.write(`${info}\n`);
      process.stdout.write(`${out}\n`);
      return 0;
    } finally {
      await client.end().catch(() => undefined);
      await database.stop();
    }
  };
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      const message = options.explain?.(error) ?? (error instanceof Error ? error.message : String(error));
      process.stderr.write(`${options.name}: ${message}\n`);
      process.exit(1);
    },
  );
}

/** Whether the module at `url` is the script node was started with (not imported, as by a test). */
export function isMain(url: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === url;
  } catch {
    return false;
  }
}
