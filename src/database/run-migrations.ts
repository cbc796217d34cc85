import pg from 'pg';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source.options.js';

/** Any constant: instances starting together take turns migrating. */
const MIGRATION_LOCK = 7_160_901;

/**
 * Applies pending migrations with the shared DataSource options; returns the names applied.
 * Instances that start together on one database serialize on an advisory lock.
 */
export async function runMigrations(url: string, log?: (message: string) => void): Promise<string[]> {
  const lock = new pg.Client({ connectionString: url, application_name: 'rowcast-migrations-lock' });
  await lock.connect();
  const dataSource = new DataSource({
    ...buildDataSourceOptions({ url, poolSize: 1, applicationName: 'rowcast-migrations' }),
    logging: false,
  });
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await dataSource.initialize();
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    // One line, however many: a new database takes them all.
    if (applied.length) log?.(`${applied.length === 1 ? 'migration' : `${applied.length} migrations`} applied: ${applied.map((migration) => migration.name).join(', ')}`);
    return applied.map((migration) => migration.name);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
    await lock.end(); // releases the lock
  }
}
