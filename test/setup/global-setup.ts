import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { runMigrations } from '../../src/database/run-migrations.js';
import { RunningPostgres, startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL (database `postgres`) of the server the tests use. */
    adminUrl: string;
    /** A migrated database that every test file clones. */
    templateDatabase: string;
  }
}

/**
 * One PostgreSQL per run: the embedded one (fsync off, in a temp folder), or the server named by
 * TEST_DATABASE_URL (an admin URL). The schema is migrated once into a template database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: RunningPostgres | undefined;
  let dataDir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'rowcast-test-pg-'));
    const hooked = [...process.listeners('beforeExit'), ...process.listeners('exit')];
    server = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, 'data'),
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
      keepSignalHandlers: true,
    });
    adminUrl = server.adminUrl;
    // embedded-postgres (async-exit-hook) ends the process with process.exit(0) on 'beforeExit',
    // which turned a failed run's exit code into 0. The teardown below stops the server.
    for (const listener of process.listeners('beforeExit')) {
      if (!hooked.includes(listener)) process.removeListener('beforeExit', listener);
    }
    for (const listener of process.listeners('exit')) {
      if (!hooked.includes(listener)) process.removeListener('exit', listener);
    }
  }

  const templateDatabase = `rowcast_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${templateDatabase}`);
  await admin.query(`CREATE DATABASE ${templateDatabase}`);
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  await runMigrations(templateUrl.toString());

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname = $2`,
      [`rowcast_test_${process.pid}_%`, templateDatabase],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.end();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
