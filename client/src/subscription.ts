import { RowcastError } from './errors.js';
import { compileFilter } from './filter.js';
import { NOTIFICATION_ID, type Notification, type NotificationFilter } from './protocol.js';

/**
 * `connecting`: not yet subscribed on a connection (the client is connecting, or resuming after a
 * drop, by itself); `live`: subscribed, notifications flow (a resume's replay first);
 * `paused`: `client.disconnect()` was called, `client.connect()` resumes.
 */
export type SubscriptionStatus = 'connecting' | 'live' | 'paused';

export type NotificationHandler = (notification: Notification) => void | Promise<void>;

export interface SubscribeOptions {
  /**
   * Resume after this notification id: the stored ones after it are delivered first, then live
   * ones. Left out: from the moment the subscription is made.
   */
  since?: string;
  /**
   * A RowcastError from the service or the connection (`fatal`: the subscription has ended), or
   * what the handler threw (delivery goes on). Without it, fatal errors and the handler's are
   * left unhandled rather than silently dropped.
   */
  onError?: (error: unknown) => void;
  onStatus?: (status: SubscriptionStatus) => void;
}

export interface Subscription {
  /** Ends the subscription: its handler is not called again. */
  close(): void;
  /** The id of the last notification handed to the handler: `since` for resuming elsewhere later. */
  readonly lastId: string | undefined;
  readonly closed: boolean;
}


/**
 * One subscription as the connection sees it: its filter, where it has got to, and an ordered
 * delivery queue (an async handler gets the next notification once its promise settles).
 */
export class LiveSubscription implements Subscription {
  readonly matches: (notification: Notification) => boolean;
  /**
   * Every notification this subscription wants up to this id has been received (and queued for
   * the handler): where it resumes from. Undefined until its first subscribe tells where "from now
   * on" starts.
   */
  position: bigint | undefined;
  /** Its server-side subscription on the current connection; undefined while not subscribed there. */
  serverId: string | undefined;

  private readonly queue: Notification[] = [];
  private draining = false;
  private ending: RowcastError | undefined;
  private delivered: string | undefined;
  private status: SubscriptionStatus | undefined;
  private isClosed = false;

  constructor(
    readonly filter: NotificationFilter,
    private readonly handler: NotificationHandler,
    private readonly options: SubscribeOptions,
    private readonly detach: (subscription: LiveSubscription) => void,
    /** Called once when it has ended, by close() or an error (a stream stops waiting then). */
    private readonly ended: () => void = () => {},
  ) {
    if (options.since !== undefined && !NOTIFICATION_ID.test(options.since)) {
      throw new TypeError(`since must be a notification id (digits), not ${JSON.stringify(options.since)}`);
    }
    this.matches = compileFilter(filter);
    this.position = options.since === undefined ? undefined : BigInt(options.since);
  }

  get lastId(): string | undefined {
    return this.delivered;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue.length = 0;
    this.detach(this);
    this.ended();
  }

  /**
   * A notification the service sent for this subscription: queued for the handler unless a replay
   * overlapping what came before sends it again. The service filters; the client's own filter
   * guards against a service that filters less than asked.
   */
  deliver(notification: Notification, id: bigint): void {
    if (this.position !== undefined && id <= this.position) return;
    this.position = id;
    if (!this.matches(notification)) return;
    this.queue.push(notification);
    if (!this.draining) void this.drain();
  }

  /** A checkpoint: everything it wants up to `id` has been received, so it resumes from there. */
  advance(id: bigint): void {
    if (this.position === undefined || id > this.position) this.position = id;
  }

  setStatus(status: SubscriptionStatus): void {
    if (this.isClosed || status === this.status) return;
    this.status = status;
    this.options.onStatus?.(status);
  }

  /** Not fatal: the client carries on by itself. */
  report(error: RowcastError): void {
    if (!this.isClosed) this.options.onError?.(error);
  }

  /** Ends the subscription once what was received has been handed over, then reports why. */
  fail(error: RowcastError): void {
    if (this.isClosed || this.ending) return;
    this.ending = error;
    this.detach(this);
    if (!this.draining) this.end();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length && !this.isClosed) {
      const notification = this.queue.shift()!;
      this.delivered = notification.id;
      try {
        const result = this.handler(notification);
        if (result) await result;
      } catch (error) {
        this.raise(error);
      }
    }
    this.draining = false;
    if (this.ending) this.end();
  }

  private end(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.raise(this.ending);
    this.ended();
  }

  private raise(error: unknown): void {
    if (this.options.onError) this.options.onError(error);
    else void Promise.reject(error);
  }
}
