import type { Socket } from 'socket.io-client';
import { RowcastError } from './errors.js';
import { mergeFilters } from './filter.js';
import {
  CLIENT_EVENTS,
  NAMESPACE,
  NOTIFICATION_ID,
  SERVER_EVENTS,
  type AckErrorCode,
  type ClientToServerEvents,
  type ErrorNotice,
  type Notification,
  type ServerToClientEvents,
  type SubscribeAck,
  type SubscribeRequest,
} from './protocol.js';
import type { LiveSubscription } from './subscription.js';
import { io } from './transport.js';

type RowcastSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface LiveConnectionOptions {
  /** The service's base URL, ending in `/`. */
  base: URL;
  token: () => string | undefined;
}

/** First and longest wait before reconnecting (Socket.IO's own retries use the same bounds). */
const RETRY_MS = { min: 250, max: 5_000 };
/** A subscribe may wait for the service to reach its database (5 s) and then replay a page. */
const ACK_TIMEOUT_MS = 30_000;
/** Refusals that a later attempt can get past: the client reconnects after a pause. */
const TRANSIENT: ReadonlySet<AckErrorCode> = new Set(['UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED']);

/**
 * The client's one Socket.IO connection and the subscriptions on it. What keeps delivery gap-free
 * and duplicate-free across reconnections:
 *
 * - Every notification id a subscription has received is at most its `position`; anything at or
 *   below it is dropped, so a replay that overlaps what came before delivers nothing twice.
 * - A new connection (after a drop, a server restart, SERVER_SHUTTING_DOWN, SLOW_CONSUMER) resumes
 *   every subscription that has a position with ONE subscribe: the merged filter, `since` the
 *   lowest position. The server refuses a `since` below what a connection has already received,
 *   and a replay starts sending at once, so a second `since` on the same connection could race it.
 * - A subscription without a position yet ("from now on") gets its own subscribe, and the ack's
 *   cursor becomes its position. One with `since` added to a live connection gets a new connection.
 * - Since ids ascend per connection, a notification received moves the position of every
 *   subscription the connection covers, whether it matched or not.
 */
export class LiveConnection {
  private socket: RowcastSocket | undefined;
  private readonly subscriptions = new Set<LiveSubscription>();
  /** Changes whenever the connection does: work for an older connection stops at its next step. */
  private session = 0;
  /** Subscribe work runs one step after another. */
  private work: Promise<void> = Promise.resolve();
  private paused = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** Notifications received while a subscribe from now on awaits its ack. */
  private readonly arriving = new Set<Notification[]>();

  constructor(private readonly options: LiveConnectionOptions) {}

  add(subscription: LiveSubscription): void {
    this.subscriptions.add(subscription);
    subscription.setStatus(this.paused ? 'paused' : 'connecting');
    if (this.paused) return;
    const socket = this.open();
    if (socket.connected) {
      const session = this.session;
      this.enqueue(() => this.attach(subscription, session));
    } else if (!socket.active && !this.retryTimer) {
      socket.connect();
    }
  }

  /** A subscription closed or failed: it is no longer served, and without any the connection closes. */
  remove(subscription: LiveSubscription): void {
    if (!this.subscriptions.delete(subscription)) return;
    if (subscription.serverId && this.socket?.connected) {
      this.socket.emit(CLIENT_EVENTS.unsubscribe, { subscriptionId: subscription.serverId }, () => {});
    }
    if (this.subscriptions.size === 0) this.stop();
  }

  /** Connects (again) now: after `disconnect()`, or after a new API key. */
  connect(): void {
    this.paused = false;
    this.clearRetry();
    if (!this.subscriptions.size) return;
    const socket = this.open();
    if (socket.active) return;
    for (const subscription of this.subscriptions) subscription.setStatus('connecting');
    socket.connect();
  }

  /** Closes the connection and keeps the subscriptions and their positions until `connect()`. */
  disconnect(): void {
    this.paused = true;
    this.clearRetry();
    for (const subscription of this.subscriptions) subscription.setStatus('paused');
    this.socket?.disconnect();
  }

  /** Ends every subscription (as their close() does) and the connection. */
  close(): void {
    for (const subscription of [...this.subscriptions]) subscription.close();
    this.stop();
  }

  private open(): RowcastSocket {
    if (this.socket) return this.socket;
    const { base } = this.options;
    const socket: RowcastSocket = io(`${base.origin}${NAMESPACE}`, {
      path: `${base.pathname}socket.io`,
      transports: ['websocket'],
      forceNew: true,
      autoConnect: false,
      reconnectionDelay: RETRY_MS.min,
      reconnectionDelayMax: RETRY_MS.max,
      // Read at every (re)connection: the key may have changed since.
      auth: (send) => {
        const token = this.options.token();
        send(token ? { token } : {});
      },
    });
    socket.on('connect', () => this.connected());
    socket.on('disconnect', (reason) => this.disconnected(reason));
    socket.on('connect_error', (error) => this.refused(error as Error & { data?: { code?: string } }));
    socket.on(SERVER_EVENTS.notification, (notification) => this.dispatch(notification));
    socket.on(SERVER_EVENTS.errorNotice, (notice) => this.notice(notice));
    this.socket = socket;
    return socket;
  }

  private connected(): void {
    const session = ++this.session;
    this.enqueue(() => this.resubscribe(session));
  }

  private disconnected(reason: Socket.DisconnectReason): void {
    this.session++;
    for (const subscription of this.subscriptions) {
      subscription.covered = false;
      subscription.serverId = undefined;
      subscription.setStatus(this.paused ? 'paused' : 'connecting');
    }
    // Socket.IO reconnects by itself after a network failure, but not when the server closed the
    // connection on purpose (a slow reader, a since whose replay expired).
    if (reason === 'io server disconnect') this.retryLater();
  }

  private refused(error: Error & { data?: { code?: string } }): void {
    const code = error.data?.code;
    if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') return this.failAll(new RowcastError(code, error.message, true));
    if (code === 'TOO_MANY_CONNECTIONS') return this.retryLater(new RowcastError(code, error.message, false));
    // A network failure: Socket.IO retries by itself while the socket is active.
    if (!this.socket?.active) this.retryLater();
  }

  private notice(notice: ErrorNotice): void {
    switch (notice.code) {
      case 'KEY_REVOKED':
      case 'UNAUTHORIZED':
        return this.failAll(new RowcastError(notice.code, notice.message, true));
      case 'SINCE_EXPIRED':
        // The server closes the connection; resubscribing tells which subscriptions expired.
        this.retries = 0;
        return;
      default:
        for (const subscription of this.subscriptions) subscription.report(new RowcastError(notice.code, notice.message, false));
    }
  }

  private dispatch(notification: Notification): void {
    if (typeof notification?.id !== 'string' || !NOTIFICATION_ID.test(notification.id)) return;
    const id = BigInt(notification.id);
    for (const list of this.arriving) list.push(notification);
    for (const subscription of this.subscriptions) {
      if (subscription.covered && subscription.position !== undefined && id > subscription.position) {
        subscription.receive(notification, id);
      }
    }
  }

  /** A subscription added while connected. */
  private async attach(subscription: LiveSubscription, session: number): Promise<void> {
    if (session !== this.session || subscription.closed || subscription.covered) return;
    if (subscription.position === undefined) await this.subscribeFromNow(subscription, session);
    // Its since may be below what this connection has received: resume everything on a new one.
    else this.reconnectNow();
  }

  /** A new connection: resume what has a position, then subscribe what starts from now. */
  private async resubscribe(session: number): Promise<void> {
    for (;;) {
      const resuming = [...this.subscriptions].filter((s) => s.position !== undefined && !s.covered);
      if (!resuming.length) break;
      const since = resuming.reduce((low, s) => (s.position! < low ? s.position! : low), resuming[0].position!);
      // Covered before the ack: on a connection with no other subscription, whatever arrives is theirs.
      for (const subscription of resuming) subscription.covered = true;
      const ack = await this.request({ ...mergeFilters(resuming.map((s) => s.filter)), since: since.toString() }, session);
      if (!ack) return;
      if (ack.ok) {
        for (const subscription of resuming) {
          subscription.validated = true;
          subscription.setStatus('live');
        }
        break;
      }
      for (const subscription of resuming) subscription.covered = false;
      const { code, message } = ack.error;
      if (code === 'SINCE_EXPIRED') {
        // Those resuming from the lowest point expired; the others may resume from theirs.
        for (const subscription of resuming) if (subscription.position === since) subscription.fail(new RowcastError(code, message, true));
      } else if (TRANSIENT.has(code)) {
        return this.retryLater(new RowcastError(code, message, false));
      } else if (resuming.length === 1 || resuming.every((s) => s.validated)) {
        for (const subscription of resuming) subscription.fail(new RowcastError(code, message, true));
      } else {
        return this.findRefused(resuming, session);
      }
    }
    for (const subscription of [...this.subscriptions]) {
      if (subscription.position === undefined && !subscription.covered && !(await this.subscribeFromNow(subscription, session))) return;
    }
    this.retries = 0;
  }

  /**
   * A merged filter was refused: each filter not yet accepted is tried on its own (from now on, then
   * unsubscribed), and the refused ones fail. The others resume on a new connection, since this
   * one may have received notifications meanwhile.
   */
  private async findRefused(resuming: LiveSubscription[], session: number): Promise<void> {
    for (const subscription of resuming.filter((s) => !s.validated)) {
      const ack = await this.request(subscription.filter, session);
      if (!ack) return;
      if (ack.ok) {
        subscription.validated = true;
        this.socket!.emit(CLIENT_EVENTS.unsubscribe, { subscriptionId: ack.subscriptionId }, () => {});
      } else if (TRANSIENT.has(ack.error.code)) {
        return this.retryLater(new RowcastError(ack.error.code, ack.error.message, false));
      } else {
        subscription.fail(new RowcastError(ack.error.code, ack.error.message, true));
      }
    }
    this.reconnectNow();
  }

  /** Subscribes one filter from now on; its position is the ack's cursor. False: stop this session. */
  private async subscribeFromNow(subscription: LiveSubscription, session: number): Promise<boolean> {
    // Kept while the ack is on its way: the cursor says which of them are the subscription's.
    const meanwhile: Notification[] = [];
    this.arriving.add(meanwhile);
    const ack = await this.request(subscription.filter, session).finally(() => this.arriving.delete(meanwhile));
    if (!ack) return false;
    if (ack.ok) {
      if (subscription.closed) {
        this.socket!.emit(CLIENT_EVENTS.unsubscribe, { subscriptionId: ack.subscriptionId }, () => {});
        return true;
      }
      subscription.position ??= BigInt(ack.cursor);
      subscription.serverId = ack.subscriptionId;
      subscription.covered = subscription.validated = true;
      subscription.setStatus('live');
      for (const notification of meanwhile) {
        const id = BigInt(notification.id);
        if (id > subscription.position) subscription.receive(notification, id);
      }
      return true;
    }
    const { code, message } = ack.error;
    if (TRANSIENT.has(code)) {
      this.retryLater(new RowcastError(code, message, false));
      return false;
    }
    subscription.fail(new RowcastError(code, message, true));
    return true;
  }

  /** The ack, or undefined when the connection changed (its successor resubscribes). */
  private async request(request: SubscribeRequest, session: number): Promise<SubscribeAck | undefined> {
    const socket = this.socket;
    if (!socket?.connected || session !== this.session) return undefined;
    try {
      const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(CLIENT_EVENTS.subscribe, request);
      return session === this.session ? ack : undefined;
    } catch {
      // No answer: dropped meanwhile (its successor resubscribes), or a stuck connection.
      if (session === this.session) this.retryLater();
      return undefined;
    }
  }

  private failAll(error: RowcastError): void {
    for (const subscription of [...this.subscriptions]) subscription.fail(error);
  }

  /** Closes this connection and opens a new one at once. */
  private reconnectNow(): void {
    if (!this.socket || this.paused) return;
    this.socket.disconnect();
    this.socket.connect();
  }

  /** Closes this connection (if open) and reconnects after a pause that grows with each attempt. */
  private retryLater(error?: RowcastError): void {
    if (error) for (const subscription of this.subscriptions) subscription.report(error);
    if (this.socket?.active) this.socket.disconnect();
    if (this.retryTimer || this.paused || !this.subscriptions.size) return;
    const delay = Math.min(RETRY_MS.max, RETRY_MS.min * 2 ** this.retries++) * (0.5 + Math.random() / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.paused && this.subscriptions.size && !this.socket?.active) this.socket?.connect();
    }, delay);
  }

  private clearRetry(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** No subscriptions left: no connection either (nothing keeps a process alive). */
  private stop(): void {
    this.clearRetry();
    this.socket?.disconnect();
  }

  private enqueue(step: () => Promise<void>): void {
    this.work = this.work.then(step).catch(() => this.retryLater());
  }
}
