import { CapturedChange } from './captured-change.event.js';

/** Runs SQL inside the drainer's open transaction. */
export type TransactionSql = <R extends object = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>;

/**
 * Emitted by PgListener for each batch it drains from the journal, in commit order. Handlers run
 * inside the drainer's transaction (`sql`): what they write commits together with the drainer's
 * cursor, or not at all. A handler that throws makes the whole batch roll back and be retried.
 */
export class ChangesCapturedEvent {
  static readonly eventName = 'capture.changes';

  constructor(
    readonly changes: readonly CapturedChange[],
    readonly sql: TransactionSql,
  ) {}
}

/** The PostgreSQL channel the drainer NOTIFYs after each committed batch of notifications. */
export const NOTIFICATIONS_CHANNEL = 'rowcast_notifications';

/** A notification as stored and pushed (see NotificationDto for the API shape). */
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
