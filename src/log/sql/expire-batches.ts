import type { Sql } from '../../database/sql.js';

/**
 * One bounded step of retention on the batches: deletes the oldest notifications created more than
 * `age` ago (an interval: '30 days'), at most `max` of them, with the journal rows that were their
 * one stored copy, and records the highest id deleted. Returns how many notifications and journal
 * rows went. The log's index loses its entries for them (by id).
 *
 * Only the head of the log is read (at most `max` batch bounds, in id order), and deletion stops at
 * the first batch that is not due: batches are appended in time order by one drainer, so the due
 * ones are a prefix, and a step costs what it deletes, not the size of the log. A batch larger than
 * what is left of the step loses only its first ids (its first_id moves up, so every other id keeps
 * its number); the next step goes on with the rest. Nothing is shipped to the caller but two counts.
 */
export async function expireBatches(sql: Sql, age: string, max: number): Promise<{ notifications: number; changes: number }> {
  const [row] = await sql<{ notifications: number; changes: number }>(
    `WITH head AS (
       SELECT h.last_id, h.last_id - h.first_id + 1 AS size, h.created_at < now() - $1::interval AS due,
              sum(h.last_id - h.first_id + 1) OVER (ORDER BY h.last_id) - (h.last_id - h.first_id + 1) AS before
       FROM (SELECT last_id, first_id, created_at FROM notification_batches ORDER BY last_id LIMIT $2) h),
     chosen AS (
       SELECT h.last_id, h.size, least(h.size, $2 - h.before) AS take
       FROM head h
       WHERE h.before < $2 AND NOT EXISTS (SELECT 1 FROM head x WHERE x.last_id <= h.last_id AND NOT x.due)),
     gone AS (
       DELETE FROM notification_batches b USING chosen c
       WHERE b.last_id = c.last_id AND c.take = c.size
       RETURNING b.last_id, b.change_ids, b.drained_through),
     cut AS (
       SELECT b.change_ids[1:c.take] AS ids, b.first_id + c.take - 1 AS through
       FROM notification_batches b JOIN chosen c ON c.last_id = b.last_id AND c.take < c.size),
     trimmed AS (
       UPDATE notification_batches b SET first_id = b.first_id + c.take, change_ids = b.change_ids[c.take + 1:]
       FROM chosen c WHERE b.last_id = c.last_id AND c.take < c.size),
     journal AS (
       DELETE FROM capture.changes c
       USING (SELECT unnest(change_ids) AS id FROM gone UNION ALL SELECT unnest(ids) FROM cut) x
       WHERE c.id = x.id
       RETURNING 1),
     -- One index range, from the last step's mark to this one's (the highest id chosen, as a
     -- bigint: take is numeric, and a numeric bound is no index condition, so the scan ran on
     -- to the index's end at every step).
     keys AS (
       DELETE FROM notification_index i
       WHERE i.id > (SELECT purged_through FROM notification_retention WHERE id = 1)
         AND i.id <= (SELECT max(c.last_id - c.size + c.take) FROM chosen c)::bigint),
     mark AS (
       UPDATE notification_retention
       SET purged_through = greatest(purged_through, (SELECT max(last_id) FROM gone), (SELECT max(through) FROM cut)),
           drained_through = greatest(drained_through, (SELECT max(drained_through) FROM gone))
       WHERE id = 1 AND EXISTS (SELECT 1 FROM chosen))
     SELECT ((SELECT coalesce(sum(cardinality(change_ids)), 0) FROM gone) + (SELECT coalesce(sum(cardinality(ids)), 0) FROM cut))::int AS notifications,
            (SELECT count(*)::int FROM journal) AS changes`,
    [age, max],
  );
  return row;
}
