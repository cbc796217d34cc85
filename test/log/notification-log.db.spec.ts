import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseModule } from '../../src/database/database.module.js';
import { NotificationLog } from '../../src/log/notification-log.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** The log's reads over batches written by hand (no drainer), so the batch bounds are the test's. */
describe('NotificationLog reads', () => {
  let db: TestDatabase;
  let log: NotificationLog;
  let close: () => Promise<void>;
  /** Journal ids of 12,000 invoice inserts, in order: notification n is change changeIds[n - 1]. */
  let changeIds: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({ imports: [DatabaseModule.forRoot(db.url, 2)], providers: [NotificationLog] }).compile();
    await moduleRef.init();
    log = moduleRef.get(NotificationLog);
    close = () => moduleRef.close();
    await db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'NL-' || g FROM generate_series(1, 12000) g`);
    changeIds = (await db.sql.query(`SELECT id::text FROM capture.changes ORDER BY id`)).rows.map((row) => row.id);
    expect(changeIds).toHaveLength(12_000);
    // Batches of 1,000 ids: 1–1000, …, 9001–10000, 10001–11000, 11001–12000 (ids of 4 and 5 digits).
    for (let first = 1; first <= 12_000; first += 1_000) {
      await db.sql.query(`INSERT INTO notification_batches (first_id, last_id, change_ids) VALUES ($1, $2, $3)`, [
        first,
        first + 999,
        changeIds.slice(first - 1, first + 999),
      ]);
    }
  });
  afterAll(async () => {
    await close();
    await db.drop();
  });

  it('takes the window of a page from the batches right after the position, in id order', async () => {
    // Text order would put batch 9001–10000 ('10000') before 1001–2000 ('2000'): a page would then
    // read thousands of ids to return 500.
    expect(await log.nextWindow(1000n, 500)).toEqual({ upTo: 1500n, lastBatch: 2000n });
    expect(await log.nextWindow(9500n, 1000)).toEqual({ upTo: 10_500n, lastBatch: 11_000n });
    expect(await log.nextWindow(10_000n, 2500)).toEqual({ upTo: 12_000n, lastBatch: 12_000n });
    expect(await log.nextWindow(12_000n, 10)).toBeUndefined();
  });

  it('reads a page across batches and digit counts with each id on its own change', async () => {
    const page = await log.readAfter(9800n, 500);

    expect(page.map((n) => n.id)).toEqual(Array.from({ length: 500 }, (_, i) => String(9801 + i)));
    const { rows } = await db.sql.query(
      `SELECT c.row_pk->>'id' AS id FROM unnest($1::bigint[]) WITH ORDINALITY u(change_id, ord) JOIN capture.changes c ON c.id = u.change_id ORDER BY u.ord`,
      [
        changeIds.slice(9800, 10_300),
      ],
    );
    expect(page.map((n) => n.payload.new?.id)).toEqual(rows.map((row) => row.id));
  });
});
