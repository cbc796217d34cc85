import type { Sql } from '../../database/sql.js';

/**
 * Whether anything waits to be drained: one cheap statement, no transaction. Not to be prepared:
 * it has no parameters, so a prepared copy keeps the plan made when the connection first ran it,
 * and one made on a small journal scans all of it once the journal is large (until an ANALYZE):
 * 15 ms a look at 200,000 rows in the backfill benchmark, three quarters of the drainer's time.
 */
export async function hasWork(sql: Sql): Promise<boolean> {
  // Two EXISTS, each a bounded index range on (tx, id). Without both bounds the planner guesses a
  // third of the journal matches and scans all of it (34 ms a look at 100,000 rows).
  const [row] = await sql<{ work: boolean }>(
    `SELECT k.batch_txs IS NOT NULL
       OR EXISTS (SELECT 1 FROM capture.changes c
                  WHERE c.tx >= pg_snapshot_xmax(k.snapshot) AND c.tx < pg_snapshot_xmax(pg_current_snapshot())
                    AND pg_visible_in_snapshot(c.tx, pg_current_snapshot()))
       OR EXISTS (SELECT 1 FROM capture.changes c
                  WHERE c.tx >= pg_snapshot_xmin(k.snapshot) AND c.tx < pg_snapshot_xmax(k.snapshot)
                    AND c.tx = ANY (ARRAY(SELECT pg_snapshot_xip(k.snapshot)))
                    AND pg_visible_in_snapshot(c.tx, pg_current_snapshot())) AS work
     FROM capture.drain_cursor k WHERE k.id = 1`,
  );
  return row.work;
}
