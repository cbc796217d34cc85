import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/config.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { RETENTION_STEP, RetentionService } from '../../src/log/retention.service.js';
import { NotificationLog } from '../../src/log/notification-log.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** Retention on a database with no drainer running, so what is "drained" is up to the test. */
describe('RetentionService', () => {
  let db: TestDatabase;
  let sut: RetentionService;
  let log: NotificationLog;
  let close: () => Promise<void>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: db.url, RETENTION_DAYS: '30' });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(db.url, 2)],
      providers: [RetentionService, NotificationLog],
    }).compile();
    await moduleRef.init();
    sut = moduleRef.get(RetentionService);
    log = moduleRef.get(NotificationLog);
    close = () => moduleRef.close();
  });
  afterAll(async () => {
    await close();
    await db.drop();
  });

  it('deletes old notifications with their journal rows, keeping recent, legacy-recent and undrained ones', async () => {
    const sql = db.sql;
    // Three committed transactions of three changes each (invoice, item, the invoice's total).
    const changesOf: Record<string, string[]> = {};
    for (const no of ['OLD', 'NEW', 'UNDRAINED']) {
      const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [no]);
      await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 1)`, [rows[0].id]);
      const ids = await sql.query(`SELECT id::text FROM capture.changes WHERE row_pk->>'id' = $1 OR new->>'invoice_id' = $1 ORDER BY id`, [
        rows[0].id,
      ]);
      changesOf[no] = ids.rows.map((row) => row.id);
    }
    expect(changesOf.OLD).toHaveLength(3);
    // Two notifications from before the one-write migration (one old, one recent), then the
    // drained batches by hand: OLD's 40 days ago, NEW's yesterday; UNDRAINED's not drained.
    await sql.query(`INSERT INTO notifications_legacy (change_id, event, table_name, entity_id, payload, created_at)
                     VALUES (-1, 'x.created', 'x', '1', '{}', now() - interval '40 days'),
                            (-2, 'x.created', 'x', '2', '{}', now() - interval '1 day')`);
    await sql.query(`INSERT INTO notification_batches (first_id, last_id, change_ids, created_at)
                     VALUES (3, 5, $1, now() - interval '40 days'), (6, 8, $2, now() - interval '1 day')`, [changesOf.OLD, changesOf.NEW]);

    const result = await sut.purge();

    expect(result).toEqual({ notifications: 1 + 3, changes: 3 });
    const { rows } = await sql.query(`SELECT id::text FROM capture.changes ORDER BY id`);
    expect(rows.map((row) => row.id)).toEqual([...changesOf.NEW, ...changesOf.UNDRAINED]);
    const { rows: left } = await sql.query(`SELECT id::text, payload->>'op' AS op FROM notifications ORDER BY id`);
    expect(left.map((row) => row.id)).toEqual(['2', '6', '7', '8']);
    // Resuming clients learn how far the log has been purged.
    const { rows: purged } = await sql.query(`SELECT purged_through::text AS id FROM notification_retention`);
    expect(purged[0].id).toBe('5');
    expect(await sut.purge()).toEqual({ notifications: 0, changes: 0 });
  });

  it('never hands out an id again after retention emptied the log', async () => {
    await db.sql.query(`UPDATE notification_batches SET created_at = now() - interval '40 days'`);
    await db.sql.query(`UPDATE notifications_legacy SET created_at = now() - interval '40 days'`);
    await sut.purge();
    expect((await db.sql.query(`SELECT count(*)::int AS n FROM notifications`)).rows[0].n).toBe(0);
    expect(await log.lastId()).toBe(8n);
  });

  it('deletes in transactions of at most RETENTION_STEP journal rows, whatever the batches hold', async () => {
    const sql = db.sql;
    // 120 batches of 1,000 due notifications with a 25,000-notification batch among them (an
    // upgrade's first batch, a large CAPTURE_BATCH_SIZE), then a recent batch that stays.
    await sql.query(
      `INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor)
       SELECT 'public', 'orders', 'INSERT', jsonb_build_object('id', g), jsonb_build_object('id', g), 'fill'
       FROM generate_series(1, 146000) g`,
    );
    const start = Number((await sql.query(`SELECT max(id) - 146000 AS id FROM capture.changes`)).rows[0].id);
    const first = (await log.lastId()) + 1n;
    await sql.query(
      `INSERT INTO notification_batches (first_id, last_id, change_ids, drained_through, created_at)
       SELECT $1 + min(n) - 1, $1 + max(n) - 1, array_agg(id ORDER BY id), max(id),
              CASE WHEN min(n) > 145000 THEN now() ELSE now() - interval '40 days' END
       FROM (SELECT id, id - $2 AS n FROM capture.changes WHERE id > $2) c
       GROUP BY CASE WHEN n <= 60000 THEN (n - 1) / 1000 WHEN n <= 85000 THEN 60 ELSE 61 + (n - 85001) / 1000 END`,
      [first.toString(), start],
    );
    // Journal rows deleted per transaction, as the transactions saw them.
    await sql.query(`
      CREATE TABLE deleted_per_tx (tx xid8 PRIMARY KEY, n bigint NOT NULL);
      CREATE FUNCTION count_deleted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO deleted_per_tx VALUES (pg_current_xact_id(), (SELECT count(*) FROM gone))
        ON CONFLICT (tx) DO UPDATE SET n = deleted_per_tx.n + excluded.n;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER changes_count_deleted AFTER DELETE ON capture.changes REFERENCING OLD TABLE AS gone
      FOR EACH STATEMENT EXECUTE FUNCTION count_deleted()`);
    try {
      const result = await sut.purge();

      expect(result).toEqual({ notifications: 145_000, changes: 145_000 });
      const { rows: steps } = await sql.query(`SELECT n::int FROM deleted_per_tx`);
      expect(steps.length).toBeGreaterThanOrEqual(145_000 / RETENTION_STEP);
      expect(Math.max(...steps.map((step) => step.n))).toBeLessThanOrEqual(RETENTION_STEP);
      // What is left is the recent batch, whole, with the ids it had; nothing below it is readable.
      const { rows: left } = await sql.query(`SELECT count(*)::int AS n, min(id)::text AS min FROM notifications`);
      expect(left[0]).toEqual({ n: 1000, min: (first + 145_000n).toString() });
      expect(await log.purgedThrough()).toBe(first + 145_000n - 1n);
      expect((await sql.query(`SELECT count(*)::int AS n FROM capture.changes WHERE id > $1`, [start])).rows[0].n).toBe(1000);
    } finally {
      await sql.query(`DROP TRIGGER changes_count_deleted ON capture.changes; DROP FUNCTION count_deleted(); DROP TABLE deleted_per_tx`);
    }
  });
});
