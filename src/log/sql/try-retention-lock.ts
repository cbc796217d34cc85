import type { Sql } from '../../database/sql.js';

/** Takes the retention lock for the transaction if no other instance holds it: one purge step at a time. */
export async function tryRetentionLock(sql: Sql, lock: number): Promise<boolean> {
  const [row] = await sql<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [lock]);
  return row.locked;
}
