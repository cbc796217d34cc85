import type { Sql } from '../../database/sql.js';
import { backfillDestinations } from '../journal-row.js';
import type { BatchedRow } from './read-batches-after.js';
import type { LegacyRow } from './read-legacy-after.js';

/** The legacy notification `id`, if there is one. */
export async function getLegacyNotification(sql: Sql, id: string): Promise<LegacyRow | undefined> {
  const [row] = await sql<LegacyRow>(
    `SELECT n.id::text AS id, n.created_at, n.event, n.table_name, n.payload FROM notifications_legacy n WHERE n.id = $1`,
    [id],
  );
  return row;
}

/** The notification `id` of a batch, if there is one: the batch whose ids hold it, and its journal row. */
export async function getBatchedNotification(sql: Sql, id: string): Promise<BatchedRow | undefined> {
  const [row] = await sql<BatchedRow>(
    `SELECT $1::text AS id, b.created_at, c.id::text AS change_id, c.tx::text AS tx,
            c.schema_name, c.table_name, c.op, c.row_pk, c.old, c.new, c.changed_columns, c.actor, c.changed_at, c.backfill_id::text AS backfill_id, ${backfillDestinations('c')}
     FROM (SELECT * FROM notification_batches WHERE last_id >= $1 ORDER BY last_id LIMIT 1) b
     JOIN capture.changes c ON c.id = b.change_ids[$1 - b.first_id + 1]
     WHERE b.first_id <= $1`,
    [id],
  );
  return row;
}
