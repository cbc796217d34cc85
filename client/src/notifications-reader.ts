import { RowcastHttpError } from './errors.js';
import type { HttpErrorBody, Notification, NotificationPage, NotificationQuery } from './protocol.js';

/** Page size of `all()` when the query names none: the most the service returns at once. */
const ALL_PAGE = 1000;

/** The notification log over REST (`GET /notifications`, scope notifications:read once keys exist). */
export class NotificationsReader {
  constructor(
    private readonly base: URL,
    private readonly token: () => string | undefined,
    private readonly fetchFn: typeof fetch,
  ) {}

  /** One page, ascending ids after `query.after`. */
  list(query: NotificationQuery = {}): Promise<NotificationPage> {
    const { where, tail, ...rest } = query;
    // `where` goes as one `where=column:value` per column.
    const entries = Object.entries(where ?? {}).map(([column, value]): [string, string] => ['where', `${column}:${String(value)}`]);
    return this.request<NotificationPage>('notifications', { ...rest, tail: tail === undefined ? undefined : String(tail) }, entries);
  }

  get(id: string): Promise<Notification> {
    return this.request<Notification>(`notifications/${encodeURIComponent(id)}`);
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

  private async request<T>(path: string, query: Record<string, string | number | undefined> = {}, repeated: [string, string][] = []): Promise<T> {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    for (const [name, value] of repeated) url.searchParams.append(name, value);
    const token = this.token();
    const fetchFn = this.fetchFn; // called unbound: a browser's fetch refuses another `this`
    const response = await fetchFn(url, { headers: { accept: 'application/json', ...(token && { authorization: `Bearer ${token}` }) } });
    if (!response.ok) {
      const body: unknown = await response.json().catch(() => undefined);
      throw new RowcastHttpError(response.status, isErrorBody(body) ? body : undefined, `${response.status} ${response.statusText}`);
    }
    return (await response.json()) as T;
  }
}

function isErrorBody(body: unknown): body is HttpErrorBody {
  return typeof body === 'object' && body !== null && typeof (body as HttpErrorBody).message === 'string';
}
