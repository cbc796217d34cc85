import type { Sql } from '../../database/sql.js';

/**
 * Deletes, oldest first, up to `max` batches (and legacy notifications) created more than `age`
 * ago (an interval: '30 days'), and records the highest id deleted. Returns how many notifications
 * went and the journal rows the deleted batches referred to (their one stored copy).
 */
export async function expireNotifications(sql: Sql, age: string, max: number): Promise<{ notifications: number; changeIds: string[] }> {
  const [row] = await sql<{ legacy: number; batches: number; change_ids: string[] }>(
    `WITH legacy AS (
       DELETE FROM notifications_legacy WHERE id IN (
         SELECT id FROM notifications_legacy WHERE created_at < now() - $1::interval ORDER BY id LIMIT $2)
       RETURNING id),
     batches AS (
       DELETE FROM notification_batches WHERE last_id IN (
         SELECT last_id FROM notification_batches WHERE created_at < now() - $1::interval ORDER BY last_id LIMIT $2)
       RETURNING last_id, change_ids),
     mark AS (
       UPDATE notification_retention
       SET purged_through = greatest(purged_through, (SELECT max(id) FROM legacy), (SELECT max(last_id) FROM batches))
       WHERE id = 1 AND (EXISTS (SELECT 1 FROM legacy) OR EXISTS (SELECT 1 FROM batches)))
     SELECT (SELECT count(*)::int FROM legacy) AS legacy,
            (SELECT coalesce(sum(cardinality(change_ids)), 0)::int FROM batches) AS batches,
            (SELECT coalesce(array_agg(x::text), '{}') FROM batches, unnest(change_ids) x) AS change_ids`,
    [age, max],
  );
  return { notifications: row.legacy + row.batches, changeIds: row.change_ids };
}
