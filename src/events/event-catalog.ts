import type { Notification } from '../../client/src/protocol.js';

/** Runs SQL inside an open transaction (retention's). */
export type TransactionSql = <R extends object = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>;

/** The PostgreSQL channel the drainer NOTIFYs (payload: the batch's last id) with each batch it commits. */
export const NOTIFICATIONS_CHANNEL = 'rowcast_notifications';

/** A notification id as the API takes it (the wire contract's, shared with the client library). */
export { NOTIFICATION_ID } from '../../client/src/protocol.js';

/**
 * A notification as the log holds it: the wire shape (client/src/protocol.ts), with its time still a
 * Date (sinks measure their lag from it) and its table's qualified name (reads and keys filter on it).
 */
export interface StoredNotification extends Omit<Notification, 'createdAt'> {
  createdAt: Date;
  tableName: string;
}

/**
 * Emitted by PgListener on the draining instance right after a batch has committed to the log:
 * its notifications, ascending ids, for this instance's feed to push without reading them back.
 */
export class NotificationsDrainedEvent {
  static readonly eventName = 'notifications.drained';

  constructor(readonly notifications: readonly StoredNotification[]) {}
}

/**
 * Emitted on every instance by its NotificationFeed: notifications newly committed to the log,
 * in ascending id order, each exactly once per instance.
 */
export class NotificationsAppendedEvent {
  static readonly eventName = 'notifications.appended';

  constructor(readonly notifications: readonly StoredNotification[]) {}
}

/**
 * Emitted on every instance when its reload of the API keys finds keys revoked (or deleted), or
 * the first key created (from then on every caller needs one).
 */
export class ApiKeysChangedEvent {
  static readonly eventName = 'api-keys.changed';

  constructor(
    readonly revokedKeyIds: readonly string[],
    readonly becameRequired: boolean,
  ) {}
}
