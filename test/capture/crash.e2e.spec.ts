import { io, Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { CrashablePostgres, writeThroughCrashes } from '../support/crashable-postgres.js';
import { TestDatabase } from '../support/database.js';
import { expectExactlyOnce } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

/**
 * PostgreSQL crash-restarted (immediate shutdown: no checkpoint, crash recovery at the next start)
 * in the middle of a burst, on a server of this file's own: the shared test server must not crash.
 */
describe('PostgreSQL crash-restarted in the middle of a burst', () => {
  let server: CrashablePostgres;
  let url: string;
  let db: TestDatabase;
  let t: TestApp | undefined;

  beforeAll(async () => {
    server = await CrashablePostgres.start();
    ({ url, db } = server);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await server?.stop();
  });

  const crash = () => server.crash();
  const restart = () => server.restart();

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
    const writers = invoices.map(({ id }) =>
      writeThroughCrashes(url, 400, (client, i) => client.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, $2)`, [id, i])),
    );
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
