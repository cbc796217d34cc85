import type { Sql } from '../../database/sql.js';

/**
 * One step of indexing what a lookup does not cover yet: for the lookup with the most left to do
 * (not locked by another instance's step), indexes the `step` notifications below its
 * covered_after, or down to the log's start, and lowers covered_after to match. Returns how many
 * ids it covered; undefined when every lookup covers the whole log.
 */
export async function extendLookup(sql: Sql, step: number): Promise<number | undefined> {
  const [row] = await sql<{ covered: string }>(
    `WITH start AS (
       SELECT coalesce((SELECT b.first_id - 1 FROM notification_batches b ORDER BY b.last_id LIMIT 1), 0) AS id),
     chosen AS (
       SELECT l.table_name, l.column_name, l.covered_after, greatest(s.id, l.covered_after - $1) AS lo
       FROM notification_lookups l, start s
       WHERE l.covered_after > s.id
       ORDER BY l.covered_after DESC LIMIT 1
       FOR UPDATE OF l SKIP LOCKED),
     indexed AS (
       INSERT INTO notification_index (key, id)
       SELECT k.key, k.id FROM chosen c, notification_keys(c.lo, c.covered_after, c.table_name, c.column_name) k
       ON CONFLICT DO NOTHING)
     UPDATE notification_lookups l SET covered_after = c.lo
     FROM chosen c
     WHERE l.table_name IS NOT DISTINCT FROM c.table_name AND l.column_name IS NOT DISTINCT FROM c.column_name
     RETURNING (c.covered_after - c.lo)::text AS covered`,
    [step],
  );
  return row ? Number(row.covered) : undefined;
}
