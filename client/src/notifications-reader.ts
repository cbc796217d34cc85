import type { Notification, NotificationPage, NotificationQuery } from './protocol.js';
import type { Rest } from './rest.js';

/** Page size of `all()` when the query names none: the most the service returns at once. */
const ALL_PAGE = 1000;

/** The notification log over REST (`GET /notifications`, scope notifications:read once keys exist). */
export class NotificationsReader {
  constructor(private readonly rest: Rest) {}

  /** One page, ascending ids after `query.after`. */
  list(query: NotificationQuery = {}): Promise<NotificationPage> {
    const { where, tail, ...rest } = query;
    // `where` goes as one `where=column:value` per column.
    const entries = Object.entries(where ?? {}).map(([column, value]): [string, string] => ['where', `${column}:${String(value)}`]);
    return this.rest.get<NotificationPage>('notifications', { ...rest, tail: tail === undefined ? undefined : String(tail) }, entries);
  }

  get(id: string): Promise<Notification> {
    return this.rest.get<Notification>(`notifications/${encodeURIComponent(id)}`);
  }

  /** Every notification matching the query after `query.after`, page by page, up to the end of the log. */
  async *all(query: NotificationQuery = {}): AsyncGenerator<Notification, void, undefined> {
    let after = query.after;
    for (;;) {
      const page = await this.list({ ...query, tail: undefined, after, limit: query.limit ?? ALL_PAGE });
      yield* page.data;
      if (page.nextCursor === null) return;
      after = page.nextCursor;
    }
  }
}
