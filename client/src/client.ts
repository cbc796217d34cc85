import { consume, type ConsumeOptions, type Consumer, type MessageHandler } from './consumer.js';
import { RowcastError } from './errors.js';
import { LiveConnection } from './live-connection.js';
import { NotificationsReader } from './notifications-reader.js';
import { Rest } from './rest.js';
import type { Notification, NotificationFilter } from './protocol.js';
import { LiveSubscription, type NotificationHandler, type SubscribeOptions, type Subscription } from './subscription.js';

export interface RowcastClientOptions {
  /** The service's base URL, e.g. `http://localhost:3000`. */
  url: string;
  /**
   * An API key (`npm run keys -- create`), needed once the service has keys: scope
   * events:subscribe for live notifications, notifications:read for the log. A function is asked
   * again at every connection and request.
   */
  apiKey?: string | (() => string | undefined);
  /** For REST calls; the global fetch by default. */
  fetch?: typeof fetch;
}

/**
 * rowcast's notifications: live over one Socket.IO connection, resuming by itself without gap or
 * duplicate, the stored log over REST, and workers of pull consumer groups.
 */
export class RowcastClient {
  readonly notifications: NotificationsReader;
  private readonly live: LiveConnection;
  private readonly rest: Rest;
  private isClosed = false;

  constructor(options: RowcastClientOptions) {
    const base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    const { apiKey } = options;
    const token = typeof apiKey === 'function' ? apiKey : () => apiKey;
    this.live = new LiveConnection({ base, token });
    this.rest = new Rest(base, token, options.fetch ?? ((input, init) => fetch(input, init)));
    this.notifications = new NotificationsReader(this.rest);
  }

  /**
   * Calls `handler` with each notification matching `filter`, once each, in ascending id order,
   * across reconnections and server restarts, until `close()` or a fatal error (`onError`).
   */
  subscribe(filter: NotificationFilter, handler: NotificationHandler, options: SubscribeOptions = {}): Subscription {
    return this.open(filter, handler, options);
  }

  /**
   * The notifications matching `filter` as an async iterator, subscribed at once. Breaking out of
   * the loop ends the subscription; a fatal RowcastError (SINCE_EXPIRED, a refused key) is thrown
   * after what arrived before it.
   */
  stream(filter: NotificationFilter = {}, options: SubscribeOptions = {}): AsyncIterableIterator<Notification> {
    const arrived: Notification[] = [];
    let failure: unknown;
    let ended = false;
    let waiting: (() => void)[] = [];
    const wake = () => {
      for (const resolve of waiting) resolve();
      waiting = [];
    };
    const subscription = this.open(
      filter,
      (notification) => {
        arrived.push(notification);
        wake();
      },
      {
        ...options,
        onError: (error) => {
          if (error instanceof RowcastError && error.fatal) failure = error;
          else options.onError?.(error);
        },
      },
      () => {
        ended = true;
        wake();
      },
    );
    const finish = async (): Promise<IteratorResult<Notification>> => {
      arrived.length = 0;
      subscription.close();
      return { done: true, value: undefined };
    };
    return {
      async next(): Promise<IteratorResult<Notification>> {
        for (;;) {
          if (arrived.length) return { done: false, value: arrived.shift()! };
          if (failure !== undefined) {
            const error = failure;
            failure = undefined;
            throw error;
          }
          if (ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => waiting.push(resolve));
        }
      },
      return: finish,
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /**
   * A worker of the pull consumer group `group` (scope consumers:consume once keys exist): runs
   * `handler` for each message it receives, acks it when the handler returns, nacks it when it
   * throws, and extends the lease of a long one. `stop()` (or `options.signal`) ends it cleanly.
   */
  consume(group: string, handler: MessageHandler, options: ConsumeOptions = {}): Consumer {
    return consume(this.rest, group, handler, options);
  }

  /** Connects again now: after `disconnect()`, or once a new API key is in place. */
  connect(): void {
    this.live.connect();
  }

  /** Closes the connection; subscriptions stay, and `connect()` resumes them where they were. */
  disconnect(): void {
    this.live.disconnect();
  }

  /** Ends every subscription and the connection. */
  close(): void {
    this.isClosed = true;
    this.live.close();
  }

  private open(filter: NotificationFilter, handler: NotificationHandler, options: SubscribeOptions, ended?: () => void): LiveSubscription {
    if (this.isClosed) throw new Error('this RowcastClient is closed');
    const subscription = new LiveSubscription(filter, handler, options, (s) => this.live.remove(s), ended);
    this.live.add(subscription);
    return subscription;
  }
}
