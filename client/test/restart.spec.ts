import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../../test/support/app.js';
import { createTestDatabase, TestDatabase } from '../../test/support/database.js';
import { waitFor } from '../../test/support/wait.js';
import { RowcastClient, RowcastError } from '../src/index.js';
import { drained, logIds, record } from './support.js';

/** The app on `db`, listening on `port`: the same address before and after a restart. */
async function startApp(db: TestDatabase, port: number): Promise<TestApp> {
  const t = await createTestApp({ db });
  await t.app.listen(port, '127.0.0.1');
  return t;
}

describe('RowcastClient across an app restart', () => {
  let db: TestDatabase;
  let t: TestApp | undefined;
  let client: RowcastClient | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    client?.close();
    await t?.close();
    await db.drop();
  });

  it('misses nothing and repeats nothing while the app stops and starts again mid-stream', async () => {
    t = await createTestApp({ db, listen: true });
    const port = Number(new URL(t.url).port);
    client = new RowcastClient({ url: t.url });
    const everything = record(client, {});
    await everything.live();
    await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('RESTART-early')`);
    // A second subscription on the same connection with a since of its own, below what the first
    // has received: each resumes from its own position after the restart.
    const fromStart = record(client, { events: ['invoices.created'] }, { since: '0' });

    // Writers go on through the restart, straight to the database: what is written while no app
    // runs waits in the journal.
    let writing = true;
    const writer = (async () => {
      for (let round = 0; writing || round < 20; round++) {
        await db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'RESTART-${round}-' || g FROM generate_series(1, 10) g`);
      }
    })();
    await waitFor(() => everything.notifications.length >= 300, { what: '300 notifications before the restart' });
    await t.close(); // tells the client SERVER_SHUTTING_DOWN and closes its transport
    const before = everything.notifications.length;
    // Changes the client has not received: written while the app stopped, or not yet sent to it.
    await waitFor(async () => (await db.sql.query(`SELECT count(*)::int AS n FROM capture.changes`)).rows[0].n > before + 100, {
      what: 'writes while no app runs',
    });
    t = await startApp(db, port);
    await waitFor(() => everything.notifications.length >= before + 300, { timeout: 30_000, what: '300 more after the restart' });
    writing = false;
    await writer;

    const log = await drained(db.sql);
    await waitFor(() => everything.notifications.length >= log.length, { timeout: 30_000, what: `all ${log.length} notifications` });
    expect(everything.ids()).toEqual(log);
    const created = await logIds(db.sql, `event = 'invoices.created'`);
    await waitFor(() => fromStart.notifications.length >= created.length, { what: `all ${created.length} invoices.created` });
    expect(fromStart.ids()).toEqual(created);
    expect(fromStart.errors).toEqual([expect.objectContaining({ code: 'SERVER_SHUTTING_DOWN', fatal: false })]);
    expect(everything.errors).toEqual([expect.objectContaining({ code: 'SERVER_SHUTTING_DOWN', fatal: false })]);
    expect(everything.errors[0]).toBeInstanceOf(RowcastError);
    expect(everything.statuses).toEqual(['connecting', 'live', 'connecting', 'live']);
  }, 90_000);
});
