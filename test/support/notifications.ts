import pg from 'pg';
import type { Notification, NotificationPayload } from '../../client/src/protocol.js';
import { StoredNotification } from '../../src/events/event-catalog.js';
import { waitFor } from './wait.js';

/** A row of the view `notifications`: the wire notification's fields, with the log's filter columns. */
export interface NotificationRow extends Pick<Notification, 'id' | 'event' | 'payload'> {
  change_id: string;
  table_name: string;
  entity_id: string;
}

/** Every notification, ascending id. */
export async function notifications(sql: pg.Pool, where = 'true', values: unknown[] = []): Promise<NotificationRow[]> {
  const { rows } = await sql.query<NotificationRow>(
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
): Promise<NotificationRow[]> {
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

/**
 * A notification as the log holds it, for specs without a database: an invoice created, with
 * `fields` (and the payload's fields) in place of the defaults.
 */
export function storedNotification(
  fields: Partial<Omit<StoredNotification, 'payload'>> & { payload?: Partial<NotificationPayload> } = {},
): StoredNotification {
  const { payload, ...notification } = fields;
  return {
    id: '1',
    event: 'invoices.created',
    tableName: 'invoices',
    createdAt: new Date(0),
    ...notification,
    payload: {
      schema: 'public',
      table: 'invoices',
      op: 'INSERT',
      pk: { id: 'a' },
      new: { id: 'a' },
      old: null,
      changedColumns: null,
      actor: 'test',
      txId: '1',
      changedAt: new Date(0).toISOString(),
      ...payload,
    },
  };
}
