import type { Sql } from '../../database/sql.js';

/** Deletes these journal rows; returns how many there were. */
export async function deleteChanges(sql: Sql, changeIds: readonly string[]): Promise<number> {
  const [row] = await sql<{ deleted: number }>(
    `WITH deleted AS (DELETE FROM capture.changes WHERE id = ANY ($1::bigint[]) RETURNING 1)
     SELECT count(*)::int AS deleted FROM deleted`,
    [changeIds],
  );
  return row.deleted;
}
