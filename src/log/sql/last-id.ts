import type { Sql } from '../../database/sql.js';

/** The highest id given or deleted so far (0 for a log that never had one). */
export async function lastId(sql: Sql): Promise<bigint> {
  const [row] = await sql<{ id: string }>(
    `SELECT greatest((SELECT max(last_id) FROM notification_batches), (SELECT max(id) FROM notifications_legacy),
                     (SELECT purged_through FROM notification_retention WHERE id = 1), 0)::text AS id`,
  );
  return BigInt(row.id);
}
