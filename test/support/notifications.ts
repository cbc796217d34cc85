import pg from 'pg';
import { waitFor } from './wait.js';

export interface StoredNotification {
  id: string;
  change_id: string;
  event: string;
  table_name: string;
  entity_id: string;
  payload: {
    schema: string;
    table: string;
    op: string;
    pk: Record<string, unknown>;
    new: Record<string, unknown> | null;
    old: Record<string, unknown> | null;
    changedColumns: string[] | null;
    actor: string;
    txId: string;
  };
}

/** Every notification, ascending id. */
export async function notifications(sql: pg.Pool, where = 'true', values: unknown[] = []): Promise<StoredNotification[]> {
  const { rows } = await sql.query<StoredNotification>(
    `SELECT n.id::text, n.change_id::text, event, table_name, entity_id, payload
     FROM notifications n WHERE ${where} ORDER BY n.id`,
    values,
  );
  return rows;
}

/** Waits until at least `count` notifications match, then returns them all. */
export async function waitForNotifications(
  sql: pg.Pool,
  count: number,
  { where = 'true', values = [] as unknown[], timeout = 20_000 } = {},
): Promise<StoredNotification[]> {
  await waitFor(
    async () => {
      const { rows } = await sql.query(`SELECT count(*)::int AS n FROM notifications WHERE ${where}`, values);
      return rows[0].n >= count;
    },
    { timeout, what: `${count} notifications where ${where}` },
  );
  return notifications(sql, where, values);
}

/** Every journal row has become exactly one notification, and nothing is pending. */
export async function expectExactlyOnce(sql: pg.Pool): Promise<{ changes: number; notifications: number; duplicates: number }> {
  const { rows } = await sql.query(`
    SELECT (SELECT count(*)::int FROM capture.changes) AS changes,
           (SELECT count(*)::int FROM notifications) AS notifications,
           (SELECT count(*)::int FROM capture.changes c
             WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.change_id = c.id)) AS missing,
           (SELECT count(*)::int FROM (SELECT change_id FROM notifications GROUP BY change_id HAVING count(*) > 1) d) AS duplicates`);
  return rows[0];
}
