import type { Sql } from '../../database/sql.js';

/** The highest id retention has deleted (0 when none). */
export async function purgedThrough(sql: Sql): Promise<bigint> {
  const [row] = await sql<{ id: string }>(`SELECT purged_through::text AS id FROM notification_retention WHERE id = 1`);
  return BigInt(row?.id ?? 0);
}
