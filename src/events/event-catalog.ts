/** Runs SQL inside an open transaction (retention's). */
export type TransactionSql = <R extends object = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>;

/** The PostgreSQL channel the drainer NOTIFYs (payload: the batch's last id) with each batch it commits. */
export const NOTIFICATIONS_CHANNEL = 'rowcast_notifications';

/** A notification as stored and pushed (see NotificationDto for the API shape). */
/** A notification id as the API takes it (the wire contract's, shared with the client library). */
export { NOTIFICATION_ID } from '../../client/src/protocol.js';

export interface StoredNotification {
  id: string;
  event: string;
  tableName: string;
  createdAt: Date;
  payload: {
    op: string;
    new: Record<string, unknown> | null;
    old: Record<string, unknown> | null;
    [key: string]: unknown;
  };
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
