import type { Sql } from '../../database/sql.js';

/** Undrained journal rows and the age of the oldest in ms (0 when there is none). */
export async function undrainedBacklog(sql: Sql): Promise<{ backlog: number; lagMs: number }> {
  const [row] = await sql<{ backlog: string; lag_ms: string | null }>(
    `SELECT count(*) AS backlog, round(extract(epoch FROM clock_timestamp() - min(c.changed_at)) * 1000) AS lag_ms
     FROM capture.undrained() c`,
  );
  return { backlog: Number(row.backlog), lagMs: Math.max(0, Number(row.lag_ms ?? 0)) };
}
