import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  name: string;
  url: string;
  /** A small pool on the database, for direct SQL. */
  sql: pg.Pool;
  drop(): Promise<void>;
}

/** A database of its own for one test file: a clone of the migrated template (~30 ms). */
export async function createTestDatabase(options: { template?: string } = {}): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const template = options.template ?? inject('templateDatabase');
  const name = `rowcast_test_${process.ppid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(adminUrl, (admin) =>
    admin.query(`CREATE DATABASE ${name} TEMPLATE ${template} STRATEGY FILE_COPY`),
  );
  const url = databaseUrl(adminUrl, name);
  const sql = new pg.Pool({ connectionString: url, max: 20 });
  // DROP … WITH (FORCE) may end a client that is still closing; that is expected, not a failure.
  sql.on('error', () => {});
  return {
    name,
    url,
    sql,
    drop: async () => {
      await sql.end();
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdmin<T>(adminUrl: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
