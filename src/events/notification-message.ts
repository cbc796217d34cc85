import { StoredNotification } from './event-catalog.js';

/**
 * The one way to read the notification log: these columns (`n` is notifications; ids as text,
 * and every ORDER BY names n.id, the bigint, since the alias would sort as text), this row, fromRow.
 * REST, the feed and replays all read it so.
 */
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

/** A notification as REST returns it and the gateway pushes it (NotificationDto). */
export function toNotificationMessage(notification: StoredNotification) {
  return { id: notification.id, event: notification.event, createdAt: notification.createdAt, payload: notification.payload };
}
