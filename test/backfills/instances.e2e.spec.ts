import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BackfillRepository } from '../../src/backfills/backfill.repository.js';
import { LogDrainer } from '../../src/log/log-drainer.js';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { expectExactlyOnce } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

/** Two instances on one database: the one that drains runs the backfills; the other takes over when it goes. */
describe('backfills with two instances', () => {
  let db: TestDatabase;
  let first: TestApp | undefined;
  let second: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.sql.query(`CREATE TABLE boxes (id int PRIMARY KEY, size int)`);
    await db.sql.query(`INSERT INTO boxes SELECT g, g FROM generate_series(1, 20000) g`);
    await db.sql.query(`SELECT capture.enable('boxes')`);
    first = await createTestApp({ db });
    second = await createTestApp({ db });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await db.drop();
  });

  it('runs a backfill on the draining instance alone, and the other goes on from the cursor when that one stops', async () => {
    await waitFor(() => first!.app.get(LogDrainer).getStatus().draining, { what: 'the first instance to drain' });
    expect(second.app.get(LogDrainer).getStatus().draining).toBe(false);
    const firstChunks = vi.spyOn(first!.app.get(BackfillRepository), 'chunk');
    const secondChunks = vi.spyOn(second.app.get(BackfillRepository), 'chunk');
    // A writer holds a row in the middle: the backfill is under way on the first instance when it stops.
    const writer = await db.sql.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(`UPDATE boxes SET size = -1 WHERE id = 15000`);
      const { body: started } = await second.http.post('/backfills').send({ table: 'boxes' }).expect(201);
      await waitFor(
        async () => (await db.sql.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%backfill_chunk%'`)).rowCount,
        // 15,000 rows in: chunks start small and grow, slower on a loaded machine.
        { timeout: 60_000, what: 'a chunk waiting for the writer' },
      );
      expect(firstChunks).toHaveBeenCalled();
      expect(secondChunks).not.toHaveBeenCalled();
      // The first instance finishes the chunk under way (once the writer commits), then stops.
      const closing = first!.close();
      await writer.query('COMMIT');
      await closing;
      first = undefined;
      const done = await waitFor(
        async () => {
          const { body } = await second.http.get(`/backfills/${started.id}`).expect(200);
          return body.state === 'completed' && body;
        },
        { timeout: 30_000, what: 'the second instance to complete the backfill' },
      );
      expect(done.rowsDone).toBe(20000);
      expect(secondChunks).toHaveBeenCalled();
      const { rows: [reads] } = await db.sql.query(
        `SELECT count(*)::int AS reads, count(DISTINCT row_pk)::int AS rows, min((new->>'size')::int) AS smallest FROM capture.changes WHERE backfill_id = $1 AND op = 'READ'`,
        [started.id],
      );
      expect(reads).toEqual({ reads: 20000, rows: 20000, smallest: -1 });
      await waitFor(async () => (await expectExactlyOnce(db.sql)).notifications === 20003, { timeout: 30_000, what: 'every read in the log, and the backfill start and end events' });
      expect(await expectExactlyOnce(db.sql)).toMatchObject({ missing: 0, duplicates: 0 });
    } finally {
      writer.release();
    }
  }, 60_000);
});
