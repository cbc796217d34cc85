import { StoredNotification } from './event-catalog.js';

/**
 * When a notification's change committed, as lags and latencies measure from it: its `changedAt`,
 * written by the capture trigger in the committing transaction (PostgreSQL keeps no commit time
 * unless track_commit_timestamp is on, which rowcast does not require). It precedes the commit by
 * whatever the transaction did after that write: for the short transactions that carry most
 * changes, milliseconds. A notification logged before changedAt existed falls back to its time in
 * the log.
 */
export function commitTimeOf(notification: StoredNotification): number {
  const changedAt = notification.payload.changedAt ? Date.parse(notification.payload.changedAt) : NaN;
  return Number.isNaN(changedAt) ? notification.createdAt.getTime() : changedAt;
}
