import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { CrashablePostgres } from '../support/crashable-postgres.js';
import { expectExactlyOnce, notifications } from '../support/notifications.js';
import { applyInOrder, readsOf } from '../support/replica.js';
import { waitFor } from '../support/wait.js';

const ROWS = 40_000;
const WRITERS = 4;
/** The row a holder keeps locked until the crash, so that the backfill cannot end before it; no writer touches it. */
const HELD = (ROWS * 3) / 4;

/**
 * The interleaving test with PostgreSQL crash-restarted mid-backfill (an immediate shutdown: the
 * chunk under way and the writers' transactions cut off, crash recovery at the restart): writers
 * update, delete and insert rows while the app's runner backfills the table; after the restart the
 * backfill goes on from its cursor. The log applied in order gives exactly the table, and each row
 * there at start and not deleted before its chunk was read exactly once.
 */
describe('a backfill across a PostgreSQL crash', () => {
  let server: CrashablePostgres;
  let t: TestApp | undefined;

  beforeAll(async () => {
    server = await CrashablePostgres.start();
    const sql = server.db.sql;
    // Rows from before capture: the log knows them only through the backfill.
    await sql.query(`CREATE TABLE stock (id int PRIMARY KEY, v int NOT NULL, note text NOT NULL)`);
    await sql.query(`INSERT INTO stock SELECT g, 0, 'start' FROM generate_series(1, ${ROWS}) g`);
    await sql.query(`SELECT capture.enable('stock')`);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await server?.stop();
  });

  it('goes on from its cursor: the log applied in order is the table, each row read once', async () => {
    t = await createTestApp({ db: server.db, listen: true });
    const app = t;
    let writing = true;
    let transactions = 0;
    let cutOff = 0;
    const random = (n: number) => Math.floor(Math.random() * n);
    /** A row there at start, any but the held one (a writer waiting for it would hold its other rows until the crash). */
    const pick = () => {
      const id = 1 + random(ROWS);
      return id === HELD ? id + 1 : id;
    };
    /** A writer of its own connection, connecting again after the crash; a transaction cut off is simply lost or committed, as in life. */
    const write = async (writer: number) => {
      let fresh = ROWS + writer * 1_000_000;
      let client: pg.Client | undefined;
      while (writing) {
        try {
          if (!client) {
            client = new pg.Client({ connectionString: server.url });
            client.on('error', () => {});
            await client.connect();
          }
          await client.query('BEGIN');
          for (let statement = 1 + random(3); statement > 0; statement--) {
            const kind = random(10);
            if (kind < 6) {
              // Rows spread over the table (in order, so writers do not deadlock each other).
              const ids = Array.from({ length: 1 + random(4) }, pick).sort((a, b) => a - b);
              await client.query(`UPDATE stock SET v = v + 1, note = $2 WHERE id = ANY ($1)`, [ids, `w${writer}`]);
            } else if (kind < 8) {
              await client.query(`DELETE FROM stock WHERE id = $1`, [pick()]);
            } else if (kind < 9) {
              await client.query(`INSERT INTO stock VALUES ($1, 0, 'new') ON CONFLICT (id) DO NOTHING`, [pick()]);
            } else {
              await client.query(`INSERT INTO stock VALUES ($1, 0, 'fresh')`, [++fresh]);
            }
          }
          await client.query('COMMIT');
          transactions++;
        } catch (error) {
          if ((error as { code?: string }).code === '40P01') {
            // Writers and the chunks lock rows in different orders: a deadlock ends one, as in life.
            await client!.query('ROLLBACK');
            continue;
          }
          // The server went away: connect again once it is back.
          cutOff++;
          await client?.end().catch(() => undefined);
          client = undefined;
          await new Promise((resolve) => setTimeout(resolve, 50)); // a back-off between tries, not a wait for a condition
        }
      }
      await client?.end().catch(() => undefined);
    };

    /** The backfill as the API shows it; undefined while the database (or the app's connection to it) is down. */
    const backfill = async (id: string) => {
      const response = await fetch(`${app.url}/backfills/${id}`).catch(() => undefined);
      return response?.ok ? ((await response.json()) as { state: string; rowsDone: number; error: string | null }) : undefined;
    };

    // A writer holding a row three quarters in keeps the backfill from ending before the crash.
    const holder = new pg.Client({ connectionString: server.url });
    holder.on('error', () => {});
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM stock WHERE id = ${HELD} FOR UPDATE`);

    const running = Array.from({ length: WRITERS }, (_, writer) => write(writer));
    try {
      await waitFor(() => transactions >= 200, { timeout: 30_000, what: 'the writers to get going' });
      const { body: started } = await app.http.post('/backfills').send({ table: 'stock' }).expect(201);
      const before = await waitFor(
        async () => {
          const now = await backfill(started.id);
          return now && now.state === 'running' && now.rowsDone >= ROWS / 4 ? now : undefined;
        },
        { timeout: 90_000, what: 'a quarter of the rows read' },
      );
      expect(before.rowsDone).toBeLessThan(HELD);

      await server.crash();
      await server.restart();
      await holder.end().catch(() => undefined);

      const done = await waitFor(
        async () => {
          const now = await backfill(started.id);
          if (now?.state === 'failed') throw new Error(now.error ?? 'failed');
          return now?.state === 'completed' ? now : undefined;
        },
        { timeout: 120_000, what: 'the backfill to complete after the restart' },
      );
      const during = transactions;
      // Writers go on a little after the end: their changes must land after the reads too.
      await waitFor(() => transactions >= during + 200, { timeout: 30_000, what: 'more writes after the backfill' });
      writing = false;
      await Promise.all(running);
      expect(cutOff).toBeGreaterThan(0); // the crash did cut the writers off
      expect(done.rowsDone).toBeGreaterThan(ROWS / 2);
    } finally {
      writing = false;
      await holder.end().catch(() => undefined);
      await Promise.allSettled(running);
    }

    await waitFor(
      async () => {
        const counts = await expectExactlyOnce(server.db.sql);
        return counts.changes === counts.notifications;
      },
      { timeout: 60_000, what: 'the drainer to catch up' },
    );
    expect(await expectExactlyOnce(server.db.sql)).toMatchObject({ missing: 0, duplicates: 0 });

    const log = await notifications(server.db.sql, `n.table_name = 'stock'`);
    const { state, problems } = applyInOrder(log);
    expect(problems).toEqual([]);
    const { rows: table } = await server.db.sql.query(`SELECT id, v, note FROM stock ORDER BY id`);
    expect([...state.values()].sort((a, b) => a.id - b.id)).toEqual(table);
    expect(readsOf(log, ROWS)).toEqual({ readTwice: [], unread: [] });
    expect(log.filter((n) => n.payload.op !== 'READ').length).toBeGreaterThan(500);
  }, 360_000);
});
