import type { Sql } from '../../database/sql.js';

/** Where the transaction of a notification starts in the log, and whether the log has all of it up to that notification's end. */
export interface TransactionExtent {
  /** The writing transaction (the notifications' payload.txId). */
  tx: string;
  /** The id of the transaction's first notification. */
  start: bigint;
  /** No change of the transaction comes after this notification (none in the log, none still in the journal). */
  ended: boolean;
}

/**
 * The transaction of notification `id` (a batch's): its first id and whether it ends at `id`. A
 * transaction's changes are consecutive in the log, in the order of their journal ids (take_batch),
 * and its journal rows stay until retention: so its first id is `id` less the count of its journal
 * rows before this one, and it ends here when it has no journal row after this one, drained or not.
 * Undefined for an id no batch holds (a legacy notification, or one retention deleted).
 */
export async function transactionOf(sql: Sql, id: bigint): Promise<TransactionExtent | undefined> {
  const [row] = await sql<{ tx: string; before: string; ended: boolean }>(
    `SELECT c.tx::text AS tx, (SELECT count(*) FROM capture.changes e WHERE e.tx = c.tx AND e.id < c.id)::text AS before,
            NOT EXISTS (SELECT 1 FROM capture.changes e WHERE e.tx = c.tx AND e.id > c.id) AS ended
     FROM (SELECT * FROM notification_batches WHERE last_id >= $1 ORDER BY last_id LIMIT 1) b
     JOIN capture.changes c ON c.id = b.change_ids[$1 - b.first_id + 1]
     WHERE b.first_id <= $1`,
    [id.toString()],
  );
  return row && { tx: row.tx, start: id - BigInt(row.before), ended: row.ended };
}
