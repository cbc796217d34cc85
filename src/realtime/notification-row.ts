import { StoredNotification } from '../events/event-catalog.js';

/** The columns the feed and replays read, in the shape fromRow takes (`n` is notifications). */
export const NOTIFICATION_COLUMNS = 'n.id::text AS id, n.event, n.table_name, n.created_at, n.payload';

export interface NotificationRow {
  id: string;
  event: string;
  table_name: string;
  created_at: Date;
  payload: StoredNotification['payload'];
}

export function fromRow(row: NotificationRow): StoredNotification {
  return { id: row.id, event: row.event, tableName: row.table_name, createdAt: row.created_at, payload: row.payload };
}
