import type { Sql } from '../../database/sql.js';

/** The id of the log's last notification, as a new batch's ids follow it (append-batch.ts). */
const LOG_END = `greatest((SELECT max(b.last_id) FROM notification_batches b), (SELECT max(n.id) FROM notifications_legacy n),
                         (SELECT r.purged_through FROM notification_retention r WHERE r.id = 1), 0)`;

/** The id before the log's first batch: below it there is nothing to index (and a lookup covering from it is complete). */
export const LOG_START = `coalesce((SELECT b.first_id - 1 FROM notification_batches b ORDER BY b.last_id LIMIT 1), 0)`;

/**
 * One step of indexing (LogIndexer), the first of these with something to do: starts the lookups
 * not started (at the log's end: nothing indexed yet, nothing missed); indexes the notifications
 * after a lookup's indexed_through, `step` at most; indexes the `step` before its covered_after.
 * Returns how many ids it covered (0 for a start); undefined when there was nothing to do. A lookup
 * another instance's step holds is left to it.
 */
export async function extendLookup(sql: Sql, step: number): Promise<number | undefined> {
  const started = await sql(
    `UPDATE notification_lookups SET covered_after = e.id, indexed_through = e.id
     FROM (SELECT ${LOG_END} AS id) e
     WHERE indexed_through IS NULL
     RETURNING 1`,
  );
  if (started.length) return 0;
  return (await extendForward(sql, step)) ?? (await extendBack(sql, step));
}

function extendForward(sql: Sql, step: number): Promise<number | undefined> {
  return indexChosen(
    sql,
    step,
    `WITH e AS (SELECT max(last_id) AS id FROM notification_batches),
     chosen AS (
       SELECT l.table_name, l.column_name, l.indexed_through AS lo, least(e.id, l.indexed_through + $1) AS hi
       FROM notification_lookups l, e
       WHERE l.indexed_through < e.id
       ORDER BY l.indexed_through LIMIT 1
       FOR UPDATE OF l SKIP LOCKED)`,
    'indexed_through = c.hi',
  );
}

function extendBack(sql: Sql, step: number): Promise<number | undefined> {
  return indexChosen(
    sql,
    step,
    `WITH start AS (SELECT ${LOG_START} AS id),
     chosen AS (
       SELECT l.table_name, l.column_name, greatest(s.id, l.covered_after - $1) AS lo, l.covered_after AS hi
       FROM notification_lookups l, start s
       WHERE l.covered_after > s.id
       ORDER BY l.covered_after DESC LIMIT 1
       FOR UPDATE OF l SKIP LOCKED)`,
    'covered_after = c.lo',
  );
}

/** Indexes (lo, hi] for the lookup `chosen` names (a WITH that ends in a `chosen` CTE), and moves its bound (`set`). */
async function indexChosen(sql: Sql, step: number, chosen: string, set: string): Promise<number | undefined> {
  const [row] = await sql<{ covered: string }>(
    `${chosen},
     indexed AS (
       INSERT INTO notification_index (key, id)
       SELECT k.key, k.id FROM chosen c, notification_keys(c.lo, c.hi, c.table_name, c.column_name) k)
     UPDATE notification_lookups l SET ${set}
     FROM chosen c
     WHERE l.table_name IS NOT DISTINCT FROM c.table_name AND l.column_name IS NOT DISTINCT FROM c.column_name
     RETURNING (c.hi - c.lo)::text AS covered`,
    [step],
  );
  return row ? Number(row.covered) : undefined;
}
