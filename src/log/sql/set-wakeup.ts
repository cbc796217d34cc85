import type { Sql } from '../../database/sql.js';

/** Whether writers NOTIFY the drainer at commit (capture.wake_drainer reads this flag). */
export async function setWakeup(sql: Sql, listening: boolean): Promise<void> {
  // An unlogged table loses its row after a crash; upsert puts it back.
  await sql(
    `INSERT INTO capture.wakeup (id, listening) VALUES (1, $1)
     ON CONFLICT (id) DO UPDATE SET listening = excluded.listening`,
    [listening],
  );
}
