import type { Sql } from '../../database/sql.js';

/** The highest id in notifications_legacy (0 when empty): every batch's ids are above it. */
export async function legacyEnd(sql: Sql): Promise<bigint> {
  const [row] = await sql<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM notifications_legacy`);
  return BigInt(row.id);
}
