import type pg from 'pg';
import { SubscriptionsService } from '../../src/realtime/subscriptions.service.js';
import type { TestApp } from '../../test/support/app.js';
import { waitFor } from '../../test/support/wait.js';
import type { NoticeCode, Notification, NotificationFilter, RowcastClient, SubscribeOptions, Subscription, SubscriptionStatus } from '../src/index.js';

export { trackConnections } from '../../test/support/connections.js';

/**
 * Closes every /events connection from the server side after an error_notice, as the service
 * drops a slow reader (SLOW_CONSUMER) or ends an expired replay (SINCE_EXPIRED), without waiting
 * for either to happen: Socket.IO does not reconnect after such a close, so the client must.
 */
export function closeFromServer(t: TestApp, code: NoticeCode): number {
  return t.app.get(SubscriptionsService).disconnectAll({ code, message: `closed by the test (${code})` });
}

/** The log's ids, ascending. */
export async function logIds(sql: pg.Pool, where = 'true', values: unknown[] = []): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(`SELECT n.id::text AS id FROM notifications n WHERE ${where} ORDER BY n.id`, values);
  return rows.map((row) => row.id);
}

/** Waits until every captured change is in the log, and returns the log's ids. */
export async function drained(sql: pg.Pool, timeout = 60_000): Promise<string[]> {
  await waitFor(
    async () => {
      const { rows } = await sql.query(
        `SELECT (SELECT count(*) FROM capture.changes) = (SELECT count(*) FROM notifications) AS done`,
      );
      return rows[0].done;
    },
    { timeout, what: 'every captured change to be in the log' },
  );
  return logIds(sql);
}

export interface Recorded {
  subscription: Subscription;
  notifications: Notification[];
  ids: () => string[];
  errors: unknown[];
  statuses: SubscriptionStatus[];
  live(): Promise<void>;
}

/** A subscription that records what it delivers, its status changes and its errors. */
export function record(client: RowcastClient, filter: NotificationFilter, options: Omit<SubscribeOptions, 'onError' | 'onStatus'> = {}): Recorded {
  const notifications: Notification[] = [];
  const errors: unknown[] = [];
  const statuses: SubscriptionStatus[] = [];
  const subscription = client.subscribe(filter, (notification) => void notifications.push(notification), {
    ...options,
    onError: (error) => errors.push(error),
    onStatus: (status) => statuses.push(status),
  });
  return {
    subscription,
    notifications,
    ids: () => notifications.map((notification) => notification.id),
    errors,
    statuses,
    live: () => waitFor(() => statuses.at(-1) === 'live', { what: 'the subscription to be live' }).then(() => undefined),
  };
}

/** Ids strictly ascending (so none twice). */
export function ascending(ids: string[]): boolean {
  return ids.every((id, i) => i === 0 || BigInt(id) > BigInt(ids[i - 1]));
}
