import { Test } from '@nestjs/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigModule } from '../../src/config/config.module.js';
import { loadConfig } from '../../src/config/config.js';
import { DatabaseModule } from '../../src/database/database.module.js';
import { clientSql, Sql } from '../../src/database/sql.js';
import { StoredNotification } from '../../src/events/event-catalog.js';
import { LogFilter } from '../../src/log/log-filter.js';
import { LogIndexer } from '../../src/log/log-indexer.js';
import { NotificationLog } from '../../src/log/notification-log.js';
import { RetentionService } from '../../src/log/retention.service.js';
import { expireBatches } from '../../src/log/sql/expire-batches.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

interface PlanNode {
  'Relation Name'?: string;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

const ROWS = 150_000;
/** Orders of a customer: every 4,999th (30 of them, 3 updated). */
const CUSTOMERS = 4_999;
/** Rows: every 50,000th change is of the same row (3 changes each). */
const ENTITIES = 50_000;

/**
 * Lookups on a log large enough that a scan shows in the rows read: entityId, where on a column
 * chosen for lookups, actor, event and table answer from the index, in both directions, with what
 * the scan answers. The log is written by hand (no drainer), in batches of every size from 1 to
 * 2,000 as the drainer makes them, and indexed by LogIndexer.
 */
describe('lookups in the log', () => {
  let db: TestDatabase;
  let log: NotificationLog;
  let indexer: LogIndexer;
  let retention: RetentionService;
  let client: pg.Client;
  let sql: Sql;
  let close: () => Promise<void>;

  /**
   * What a read did: its notifications' ids, and the journal rows it read to find them. The
   * counters are this backend's not yet flushed ones, which PostgreSQL flushes only outside a
   * transaction: inside one, their difference is what the read did.
   */
  async function measured(read: (sql: Sql) => Promise<StoredNotification[]>): Promise<{ ids: string[]; journalRows: number }> {
    const journalRead = async () => {
      const { rows } = await client.query(
        `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE schemaname = 'capture' AND relname = 'changes'`,
      );
      return Number(rows[0]?.n ?? 0);
    };
    await client.query('BEGIN');
    try {
      const before = await journalRead();
      const found = await read(sql);
      return { ids: found.map((notification) => notification.id), journalRows: (await journalRead()) - before };
    } finally {
      await client.query('ROLLBACK');
    }
  }

  /** The same read by a scan: every lookup made to cover nothing, for the length of one transaction. */
  async function scanned(read: (sql: Sql) => Promise<StoredNotification[]>): Promise<string[]> {
    await client.query('BEGIN');
    try {
      await client.query(`UPDATE notification_lookups SET covered_after = 9e15`);
      return (await read(sql)).map((notification) => notification.id);
    } finally {
      await client.query('ROLLBACK');
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ DATABASE_URL: db.url, RETENTION_DAYS: '30' });
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(db.url, 2)],
      providers: [NotificationLog, LogIndexer, RetentionService],
    }).compile();
    await moduleRef.init();
    log = moduleRef.get(NotificationLog);
    indexer = moduleRef.get(LogIndexer);
    retention = moduleRef.get(RetentionService);
    close = () => moduleRef.close();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    sql = clientSql(client);
    // Changes of orders: inserts, every 10th an update by alice, every 1000th a deletion, one
    // TRUNCATE; and every 500th of a refund (a sparse table).
    await db.sql.query(
      `INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, old, actor)
       SELECT 'public', t.tbl, t.op, CASE WHEN t.op <> 'TRUNCATE' THEN jsonb_build_object('id', g % ${ENTITIES}) END,
              CASE WHEN t.op IN ('INSERT', 'UPDATE') THEN jsonb_build_object('id', g, 'customer', g % ${CUSTOMERS}, 'total', (g % 7) * 1.50) END,
              CASE WHEN t.op IN ('UPDATE', 'DELETE') THEN jsonb_build_object('id', g, 'customer', g % ${CUSTOMERS}) END,
              t.actor
       FROM generate_series(1, $1) g,
            LATERAL (SELECT CASE WHEN g = 77777 THEN 'TRUNCATE' WHEN g % 1000 = 0 THEN 'DELETE' WHEN g % 10 = 0 THEN 'UPDATE' ELSE 'INSERT' END AS op,
                            CASE WHEN g % 500 = 1 THEN 'refunds' ELSE 'orders' END AS tbl,
                            CASE WHEN g % 10 = 0 THEN 'alice' ELSE 'bob' END AS actor) t
       ORDER BY g`,
      [ROWS],
    );
    await db.sql.query(`INSERT INTO notification_tables (name) VALUES ('orders'), ('refunds')`);
    await db.sql.query(`INSERT INTO notification_lookups (table_name, column_name) VALUES ('orders', 'customer')`);
    // Up to 100,000: batches of 1, 2, … 60 rows, again and again (a low write rate's small batches);
    // then batches of 2,000 (a bulk write's).
    await db.sql.query(
      `WITH numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM capture.changes),
       sized AS (SELECT id, n, CASE WHEN n > 100000 THEN 1000000 + n / 2000
                                    ELSE n / 1830 * 100 + (SELECT max(s) FROM generate_series(1, 60) s WHERE s * (s - 1) / 2 < n % 1830 + 1) END AS batch
                 FROM numbered)
       INSERT INTO notification_batches (first_id, last_id, change_ids)
       SELECT min(n), max(n), array_agg(id ORDER BY id) FROM sized GROUP BY batch ORDER BY min(n)`,
    );
    await indexer.run();
    await db.sql.query(`ANALYZE capture.changes; ANALYZE notification_batches; ANALYZE notification_index`);
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await close();
    await db.drop();
  });

  const customer = '1234';
  const filters: [string, LogFilter, number][] = [
    // [what, filter, how many match]
    ['one row (entityId)', { entityId: '4321' }, 3],
    ['one row of one table', { tables: ['orders'], entityId: '4320' }, 3],
    ['a column value (where), with the TRUNCATE', { tables: ['orders'], where: { customer } }, 31],
    ['a column value and an event', { tables: ['orders'], where: { customer }, event: 'orders.updated' }, 3],
    ['an actor', { actor: 'alice' }, ROWS / 10],
    ['a sparse table', { tables: ['refunds'] }, ROWS / 500],
    ['a rare event', { event: 'orders.deleted' }, ROWS / 1000],
    ['an event prefix', { event: 'refunds.*' }, ROWS / 500],
    ['a dense table', { tables: ['orders'] }, ROWS - ROWS / 500],
  ];

  it.each(filters)('answers %s from the index, ascending and newest first, as the scan does', async (_what, filter, matching) => {
    const limit = 100;
    const first = await measured((sql) => log.readAfter(0n, limit, filter, sql));
    const newest = await measured((sql) => log.readLatest(limit, filter, sql));
    expect(first.ids).toEqual(await scanned((sql) => log.readAfter(0n, limit, filter, sql)));
    expect(newest.ids).toEqual(await scanned((sql) => log.readLatest(limit, filter, sql)));
    expect(first.ids).toHaveLength(Math.min(limit, matching));
    expect(newest.ids).toHaveLength(Math.min(limit, matching));
    // A page reads about what it returns (a batch of a few thousand rows at most), not the log.
    expect(first.journalRows).toBeLessThan(5_000);
    expect(newest.journalRows).toBeLessThan(5_000);
    // Paging on from a deep cursor: the same as the scan.
    const middle = BigInt(ROWS / 2);
    expect((await measured((sql) => log.readAfter(middle, limit, filter, sql))).ids).toEqual(
      await scanned((sql) => log.readAfter(middle, limit, filter, sql)),
    );
  });

  it('finds a TRUNCATE by any column value of its table: it concerns every row', async () => {
    const { ids } = await measured((sql) => log.readAfter(0n, 100, { tables: ['orders'], where: { customer: '2777' } }, sql));
    expect(ids).toContain('77777');
  });

  it('reads every match by paging through it, in order and once', async () => {
    const filter: LogFilter = { tables: ['refunds'] };
    const seen: string[] = [];
    let after = 0n;
    for (;;) {
      const page = await log.readAfter(after, 37, filter);
      if (!page.length) break;
      seen.push(...page.map((notification) => notification.id));
      after = BigInt(page[page.length - 1].id);
    }
    expect(seen).toHaveLength(ROWS / 500);
    expect(seen).toEqual([...seen].sort((a, b) => Number(a) - Number(b)));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('indexes what the log held before a lookup began, and what comes after, reading it right meanwhile', async () => {
    const filter: LogFilter = { tables: ['orders'], where: { total: '3' } };
    await db.sql.query(`INSERT INTO notification_lookups (table_name, column_name) VALUES ('orders', 'total')`);
    // Not started: the scan answers.
    const before = await measured((sql) => log.readAfter(0n, 50, filter, sql));
    expect(before.journalRows).toBeGreaterThan(100);
    // The indexer starts it at the log's end and goes back to its start.
    await indexer.run();
    const done = await db.sql.query(`SELECT covered_after::int AS c, indexed_through::int AS i FROM notification_lookups WHERE column_name = 'total'`);
    expect(done.rows[0]).toEqual({ c: 0, i: ROWS });
    const after = await measured((sql) => log.readAfter(0n, 50, filter, sql));
    expect(after.ids).toEqual(before.ids);
    expect(after.journalRows).toBeLessThan(200);

    // A batch the indexer has not reached yet is read by the scan; then indexed.
    const change = await db.sql.query(
      `INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor)
       VALUES ('public', 'orders', 'INSERT', '{"id": 999999}', '{"id": 999999, "total": 3.0}', 'bob') RETURNING id`,
    );
    await db.sql.query(`INSERT INTO notification_batches (first_id, last_id, change_ids) VALUES ($1, $1, ARRAY[$2::bigint])`, [
      ROWS + 1,
      change.rows[0].id,
    ]);
    const newest = async () => (await log.readLatest(5, filter)).map((notification) => notification.id);
    expect((await newest()).at(-1)).toBe(String(ROWS + 1)); // 3.0 is 3, as the subscribe filter has it
    expect((await log.readAfter(BigInt(ROWS - 10), 5, filter)).map((notification) => notification.id)).toContain(String(ROWS + 1));
    await indexer.run();
    const followed = await db.sql.query(`SELECT count(*)::int AS n FROM notification_lookups WHERE indexed_through = $1`, [ROWS + 1]);
    expect(followed.rows[0].n).toBe(3); // the built-in keys, customer and total
    expect((await newest()).at(-1)).toBe(String(ROWS + 1));
  });

  it('deletes the index entries of what retention deletes', async () => {
    await db.sql.query(`UPDATE notification_batches SET created_at = now() - interval '40 days' WHERE last_id <= $1`, [ROWS / 2]);
    // A step reads the index entries it deletes, not the index to its end (a numeric bound did).
    await client.query('BEGIN');
    try {
      const explained: Sql = async (text, values) => {
        const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values as unknown[]);
        plan = rows[0]['QUERY PLAN'][0].Plan;
        return [{}] as never[];
      };
      let plan: PlanNode | undefined;
      await expireBatches(explained, '30 days', 10_000);
      const scans = nodes(plan!).filter((node) => node['Relation Name'] === 'notification_index');
      expect(scans.length).toBeGreaterThan(0);
      for (const scan of scans) expect(scan['Rows Removed by Filter'] ?? 0).toBeLessThan(1_000);
    } finally {
      await client.query('ROLLBACK');
    }
    await retention.purge();
    const { rows } = await db.sql.query(
      `SELECT (SELECT purged_through FROM notification_retention)::int AS purged, (SELECT min(id) FROM notification_index)::int AS lowest`,
    );
    expect(rows[0].purged).toBeGreaterThan(ROWS / 2 - 2_000);
    expect(rows[0].lowest).toBeGreaterThan(rows[0].purged);
    // And the lookups read on from there.
    const { ids } = await measured((sql) => log.readAfter(0n, 10, { event: 'orders.deleted' }, sql));
    expect(BigInt(ids[0])).toBeGreaterThan(BigInt(rows[0].purged));
  });
});
