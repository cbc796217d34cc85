import type { Sql } from '../../database/sql.js';

/** The highest id of a batch appended at or before `at` (0 when none is left that old). */
export async function lastIdAt(sql: Sql, at: Date): Promise<bigint> {
  const [row] = await sql<{ id: string | null }>(
    `SELECT max(last_id)::text AS id FROM notification_batches WHERE created_at <= $1`,
    [at],
  );
  return BigInt(row.id ?? 0);
}
