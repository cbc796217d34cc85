import type { Sql } from '../../database/sql.js';

/**
 * Deletes, oldest first, up to `max` notifications from before OneWritePerChange created more than
 * `age` ago, and records the highest id deleted; returns how many went. Like expireBatches, it
 * reads only the head of the table and stops at the first row that is not due.
 */
export async function expireLegacy(sql: Sql, age: string, max: number): Promise<number> {
  const [row] = await sql<{ deleted: number }>(
    `WITH head AS (
       SELECT id, created_at < now() - $1::interval AS due FROM notifications_legacy ORDER BY id LIMIT $2),
     legacy AS (
       DELETE FROM notifications_legacy n USING head h
       WHERE n.id = h.id AND NOT EXISTS (SELECT 1 FROM head x WHERE x.id <= h.id AND NOT x.due)
       RETURNING n.id),
     mark AS (
       UPDATE notification_retention SET purged_through = greatest(purged_through, (SELECT max(id) FROM legacy))
       WHERE id = 1 AND EXISTS (SELECT 1 FROM legacy))
     SELECT count(*)::int AS deleted FROM legacy`,
    [age, max],
  );
  return row.deleted;
}
