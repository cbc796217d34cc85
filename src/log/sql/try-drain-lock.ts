import type { Sql } from '../../database/sql.js';

/** Takes the drain lock for the session if nobody holds it: its holder is the one drainer. */
export async function tryDrainLock(sql: Sql, lock: number): Promise<boolean> {
  const [row] = await sql<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [lock]);
  return row.locked;
}
