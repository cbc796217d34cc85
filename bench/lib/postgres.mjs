// The benchmark's PostgreSQL: BENCH_DATABASE_URL, or an embedded server of its own in a temporary
// directory, pinned to the server's core (./cpus.mjs; an external server is left alone). Each
// scenario gets a fresh, migrated database.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../dist/src/database/embedded-postgres.js';
import { runMigrations } from '../../dist/src/database/run-migrations.js';
import { pinTree } from './cpus.mjs';

/** `profile`: load pg_stat_statements, tracking statements inside triggers and functions too. */
export async function startPostgres({ profile = false } = {}) {
  if (process.env.BENCH_DATABASE_URL) {
    const adminUrl = process.env.BENCH_DATABASE_URL;
    return { adminUrl, urlFor: (name) => withDatabase(adminUrl, name), description: 'BENCH_DATABASE_URL', pinned: false, stop: async () => {} };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rowcast-bench-'));
  // Durable settings, as a production server has them: fsync stays on.
  const settings = { max_connections: '200' };
  if (profile) Object.assign(settings, { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' });
  const dataDir = path.join(dir, 'pg');
  const server = await startEmbeddedPostgres({ dataDir, settings });
  // To the server's core, away from the clients: the postmaster (first line of postmaster.pid) and
  // the processes it has started so far; the backends it forks later inherit its affinity.
  const pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const pinned = pinTree(pid);
  return {
    /** The postmaster: its process tree is the server's CPU (./usage.mjs); undefined for BENCH_DATABASE_URL. */
    pid,
    adminUrl: server.adminUrl,
    urlFor: server.urlFor,
    description: 'embedded PostgreSQL',
    pinned,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function query(url, text, values) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A new migrated database; drop() removes it. */
export async function freshDatabase(postgres, label) {
  const name = `rowcast_bench_${label}_${process.pid}`;
  await query(postgres.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await query(postgres.adminUrl, `CREATE DATABASE ${name}`);
  const url = postgres.urlFor(name);
  await runMigrations(url);
  return { name, url, drop: () => query(postgres.adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export async function serverVersion(url) {
  return (await query(url, 'SHOW server_version'))[0].server_version;
}

function withDatabase(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
