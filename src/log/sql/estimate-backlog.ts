import type { Sql } from '../../database/sql.js';

/**
 * The undrained journal rows and the age of the oldest in ms (0 when there is none), estimated from
 * three index probes whatever the journal's size: the journal's highest committed id, the highest
 * id drained so far (the newest batch's drained_through, or retention's once it deleted that batch),
 * and the first committed row above it.
 *
 * What the estimate gets wrong, and why it is still the number to watch: it counts as undrained the
 * ids between the two of transactions that rolled back or are still open (ids are taken at insert);
 * it misses undrained rows below the highest drained id (a long transaction's early rows that
 * commit after later ones were drained, the rest of a batch the drainer takes in parts), and its age
 * is then that of the first row above it. When everything committed is drained it is 0, exactly.
 * capture.backlog() counts exactly, for tests and psql; it reads every undrained row.
 */
export async function estimateBacklog(sql: Sql): Promise<{ backlog: number; lagMs: number }> {
  const [row] = await sql<{ backlog: string; lag_ms: string | null }>(
    `WITH drained AS (
       SELECT greatest((SELECT b.drained_through FROM notification_batches b ORDER BY b.last_id DESC LIMIT 1),
                       (SELECT r.drained_through FROM notification_retention r WHERE r.id = 1), 0) AS through)
     SELECT greatest(coalesce((SELECT max(c.id) FROM capture.changes c), 0) - d.through, 0) AS backlog,
            (SELECT round(extract(epoch FROM clock_timestamp() - c.changed_at) * 1000)
             FROM capture.changes c WHERE c.id > d.through ORDER BY c.id LIMIT 1) AS lag_ms
     FROM drained d`,
  );
  return { backlog: Number(row.backlog), lagMs: Math.max(0, Number(row.lag_ms ?? 0)) };
}
