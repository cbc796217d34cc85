import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/config.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { RetentionService } from '../../src/notifications/retention.service.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** Retention on a database with no drainer running, so what is "drained" is up to the test. */
describe('RetentionService', () => {
  let db: TestDatabase;
  let sut: RetentionService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: db.url, RETENTION_DAYS: '30' });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(db.url, 2)],
      providers: [RetentionService],
    }).compile();
    await moduleRef.init();
    sut = moduleRef.get(RetentionService);
    close = () => moduleRef.close();
  });
  afterAll(async () => {
    await close();
    await db.drop();
  });

  it('deletes old notifications and old drained journal rows, keeping recent and undrained ones', async () => {
    const sql = db.sql;
    // Three committed transactions of two changes each (invoice + its total update).
    for (const no of ['OLD-1', 'OLD-2', 'NEW-1']) {
      const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [no]);
      await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 1)`, [rows[0].id]);
    }
    await sql.query(`UPDATE capture.changes SET changed_at = now() - interval '40 days'
                     WHERE coalesce(new, old)->>'invoice_no' LIKE 'OLD-%' OR table_name = 'invoice_items'`);
    // Drain all but OLD-2's transactions by hand: their pending marks go.
    await sql.query(`DELETE FROM capture.pending WHERE tx NOT IN (
                       SELECT tx FROM capture.changes WHERE new->>'invoice_no' = 'OLD-2')`);
    await sql.query(`INSERT INTO notifications (change_id, event, table_name, entity_id, payload, created_at)
                     SELECT id, 'x.created', 'x', id::text, '{}', now() - make_interval(days => CASE WHEN id % 2 = 0 THEN 40 ELSE 1 END)
                     FROM capture.changes`);
    const changesBefore = (await sql.query(`SELECT count(*)::int AS n FROM capture.changes`)).rows[0].n;
    const lastExpired = (
      await sql.query(`SELECT max(id)::text AS id FROM notifications WHERE created_at < now() - interval '30 days'`)
    ).rows[0].id;

    const result = await sut.purge();

    expect(result.notifications).toBe(Math.floor(changesBefore / 2));
    const { rows } = await sql.query(`SELECT coalesce(new, old)->>'invoice_no' AS no, table_name FROM capture.changes ORDER BY id`);
    // Kept: OLD-2's insert and total update (both transactions undrained) and NEW-1's (recent).
    expect(rows.filter((row) => row.table_name === 'invoices').map((row) => row.no)).toEqual([
      'OLD-2',
      'OLD-2',
      'NEW-1',
      'NEW-1',
    ]);
    expect(rows.filter((row) => row.table_name === 'invoice_items')).toHaveLength(1); // OLD-2's item
    expect(result.changes).toBe(changesBefore - rows.length);
    expect((await sql.query(`SELECT count(*)::int AS n FROM notifications WHERE created_at < now() - interval '30 days'`)).rows[0].n).toBe(0);
    // Resuming clients learn how far the log has been purged.
    const { rows: purged } = await sql.query(`SELECT purged_through::text AS id FROM notification_retention`);
    expect(purged[0].id).toBe(lastExpired);
  });
});
