import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSql, Sql } from '../../src/database/sql.js';
import { NOTIFICATIONS_CHANNEL } from '../../src/log/channels.js';
import { appendBatch } from '../../src/log/sql/append-batch.js';
import { estimateBacklog } from '../../src/log/sql/estimate-backlog.js';
import { loggedTables } from '../../src/log/sql/logged-tables.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Heap Fetches'?: number;
  Plans?: PlanNode[];
}

/** Rows every node of a plan produced or threw away, over all its loops: what the statement touched. */
function rowsTouched(node: PlanNode): number {
  const own = (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'];
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsTouched(child), 0);
}

function relationsScanned(node: PlanNode): string[] {
  const own = node['Node Type'] === 'Seq Scan' && node['Relation Name'] ? [node['Relation Name']] : [];
  return [...own, ...(node.Plans ?? []).flatMap(relationsScanned)];
}

/** Runs a statement function's SQL under EXPLAIN ANALYZE instead, and keeps the plan. */
function explaining(pool: pg.Pool): { sql: Sql; plan: () => PlanNode } {
  let plan: PlanNode | undefined;
  const sql: Sql = async (text, values) => {
    const { rows } = await pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values as unknown[]);
    plan = rows[0]['QUERY PLAN'][0].Plan;
    return [{}] as never[]; // a row of nothing: the function reads one
  };
  return { sql, plan: () => plan! };
}

const JOURNAL_ROWS = 200_000;
const DRAINED_ROWS = 120_000;

/**
 * What /health, /metrics and every subscribe, filter and sink check read, on a journal large enough
 * that a scan shows in the plan: each reads a handful of rows, however many the journal holds.
 */
describe('reads on the request path, with a large journal', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
    // A journal of committed changes of one table, the first DRAINED_ROWS of them in batches of
    // 1,000 as the drainer would have written them (their running highest id in drained_through).
    await db.sql.query(
      `INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor)
       SELECT 'public', 'orders', 'INSERT', jsonb_build_object('id', g), jsonb_build_object('id', g, 'total', g % 97), 'fill'
       FROM generate_series(1, $1) g`,
      [JOURNAL_ROWS],
    );
    await db.sql.query(
      `INSERT INTO notification_tables (name) VALUES ('orders');
       INSERT INTO notification_batches (first_id, last_id, change_ids, drained_through)
       SELECT min(n), max(n), array_agg(id ORDER BY id), max(id)
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM capture.changes ORDER BY id LIMIT ${DRAINED_ROWS}) c
       GROUP BY (n - 1) / 1000;
       ANALYZE capture.changes; ANALYZE notification_batches`,
    );
  });
  afterAll(() => db.drop());

  it('estimates the backlog and its age from a few index probes', async () => {
    const { sql, plan } = explaining(db.sql);
    await estimateBacklog(sql);
    expect(relationsScanned(plan())).toEqual([]);
    expect(rowsTouched(plan())).toBeLessThan(50);
    // Ids without gaps, all committed: the estimate is the count.
    expect(await estimateBacklog(clientSql(db.sql))).toEqual({ backlog: JOURNAL_ROWS - DRAINED_ROWS, lagMs: expect.any(Number) });
    expect((await estimateBacklog(clientSql(db.sql))).lagMs).toBeGreaterThanOrEqual(0);
  });

  it('lists the tables the log holds without reading the journal', async () => {
    const { sql, plan } = explaining(db.sql);
    await loggedTables(sql);
    expect(rowsTouched(plan())).toBeLessThan(50);
    expect(await loggedTables(clientSql(db.sql))).toContain('orders');
  });

  it('is kept by the drainer: each batch adds its tables and moves drained_through', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Everything filled above committed after the drain cursor's snapshot: drain it, as the drainer does.
      const sql = clientSql(client);
      while ((await appendBatch(sql, { rows: 10_000, bytes: 1 << 30 }, NOTIFICATIONS_CHANNEL)).length);
      await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('B-1')`);
      await db.sql.query(`CREATE SCHEMA sales; CREATE TABLE sales.leads (id int PRIMARY KEY); SELECT capture.enable('sales.leads')`);
      await db.sql.query(`INSERT INTO sales.leads VALUES (1)`);
      expect(await loggedTables(clientSql(db.sql))).not.toContain('sales.leads');
      while ((await appendBatch(sql, { rows: 10_000, bytes: 1 << 30 }, NOTIFICATIONS_CHANNEL)).length);
      expect((await loggedTables(clientSql(db.sql))).sort()).toEqual(['invoices', 'orders', 'sales.leads']);
      // Everything committed is drained: the estimate says so exactly.
      expect(await estimateBacklog(clientSql(db.sql))).toEqual({ backlog: 0, lagMs: 0 });
      await db.sql.query(`INSERT INTO sales.leads VALUES (2), (3)`);
      expect((await estimateBacklog(clientSql(db.sql))).backlog).toBe(2);
    } finally {
      await client.end();
    }
  });
});
