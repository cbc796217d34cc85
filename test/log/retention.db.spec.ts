import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/config.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { RetentionService } from '../../src/log/retention.service.js';
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
});
