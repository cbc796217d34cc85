import type { Sql } from '../../database/sql.js';

/** The first and last ids of up to 64 batches that end after `after`, in id order. */
export async function batchBoundsAfter(sql: Sql, after: bigint): Promise<{ first: bigint; last: bigint }[]> {
  // Ordered by the column, not by the text it is selected as: '10000' sorts before '2000'.
  const rows = await sql<{ first_id: string; last_id: string }>(
    `SELECT b.first_id::text AS first_id, b.last_id::text AS last_id FROM notification_batches b
     WHERE b.last_id > $1 ORDER BY b.last_id LIMIT 64`,
    [after.toString()],
  );
  return rows.map((row) => ({ first: BigInt(row.first_id), last: BigInt(row.last_id) }));
}
