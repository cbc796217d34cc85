import type { Socket } from 'socket.io-client';
import { RowcastError } from './errors.js';
import {
  CLIENT_EVENTS,
  NAMESPACE,
  NOTIFICATION_ID,
  SERVER_EVENTS,
  type AckErrorCode,
  type ClientToServerEvents,
  type ErrorNotice,
  type CheckpointMessage,
  type SubscriptionEnded,
  type NotificationMessage,
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
/** A random half to all of RETRY_MS.min × 2^tries, at most RETRY_MS.max. */
function backoff(tries: number): number {
  return Math.min(RETRY_MS.max, RETRY_MS.min * 2 ** Math.min(tries, 10)) * (0.5 + Math.random() / 2);
}

/** A subscribe may wait for the service to reach its database (5 s) and then replay a page. */
const ACK_TIMEOUT_MS = 30_000;
/** Refusals that a later attempt can get past: the client reconnects after a pause. */
const TRANSIENT: ReadonlySet<AckErrorCode> = new Set(['UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED']);

/**
 * The client's one Socket.IO connection and the subscriptions on it. Each subscription has its
 * own server-side subscription and its own position, so what keeps delivery gap-free and
 * duplicate-free across reconnections is per subscription:
 *
 * - A subscription's `position` is the last id it received (or its `since`, or the first ack's
 *   cursor); anything at or below it is dropped, so a replay that overlaps what came before
 *   delivers nothing twice.
 * - On every new connection (after a drop, a server restart, SERVER_SHUTTING_DOWN, SLOW_CONSUMER)
 *   each subscription subscribes again with `since` its own position; one added while connected
 *   subscribes on the same connection. One without a position yet subscribes "from now on" and
 *   the ack's cursor becomes its position.
 * - Each message names the server-side subscriptions it is for; one that arrives before its
 *   subscribe's ack (a replay starts at once) is kept until the ack says whose it is.
 */
export class LiveConnection {
  private socket: RowcastSocket | undefined;
  private readonly subscriptions = new Set<LiveSubscription>();
  /** This connection's server-side subscription ids. */
  private readonly byServerId = new Map<string, LiveSubscription>();
  /** Changes whenever the connection does: work for an older connection stops at its next step. */
  private session = 0;
  /** Subscribe work runs one step after another. */
  private work: Promise<void> = Promise.resolve();
  private paused = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** Messages for subscriptions not known yet, kept while a subscribe awaits its ack. */
  private early = new Map<string, (NotificationMessage | CheckpointMessage)[]>();
  private awaitingAcks = 0;
  /** Refused subscribes (RATE_LIMITED, UNAVAILABLE…) tried again, per subscription. */
  private readonly attachTries = new WeakMap<LiveSubscription, number>();

  constructor(private readonly options: LiveConnectionOptions) {}

  add(subscription: LiveSubscription): void {
    this.subscriptions.add(subscription);
    subscription.setStatus(this.paused ? 'paused' : 'connecting');
    if (this.paused) return;
    const socket = this.open();
    if (socket.connected) {
      const session = this.session;
      this.enqueue(async () => {
        if (session === this.session && !subscription.closed && !subscription.serverId) await this.attach(subscription, session);
      });
    } else if (!socket.active && !this.retryTimer) {
      socket.connect();
    }
  }

  /** A subscription closed or failed: it is no longer served, and without any the connection closes. */
  remove(subscription: LiveSubscription): void {
    if (!this.subscriptions.delete(subscription)) return;
    if (subscription.serverId) {
      this.byServerId.delete(subscription.serverId);
      if (this.socket?.connected) this.socket.emit(CLIENT_EVENTS.unsubscribe, { subscriptionId: subscription.serverId }, () => {});
      subscription.serverId = undefined;
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
    socket.on(SERVER_EVENTS.notification, (message) => this.dispatch(message));
    socket.on(SERVER_EVENTS.checkpoint, (message) => this.dispatch(message));
    socket.on(SERVER_EVENTS.errorNotice, (notice) => this.notice(notice));
    socket.on(SERVER_EVENTS.subscriptionEnded, (ended) => this.ended(ended));
    // A bug in the service: told, not fatal (the request it answers times out and is retried).
    socket.on(SERVER_EVENTS.exception, (exception) => {
      for (const subscription of this.subscriptions) subscription.report(new RowcastError('INTERNAL', String(exception?.message), false));
    });
    this.socket = socket;
    return socket;
  }

  private connected(): void {
    const session = ++this.session;
    this.enqueue(() => this.resubscribe(session));
  }

  private disconnected(reason: Socket.DisconnectReason): void {
    this.session++;
    this.byServerId.clear();
    this.early = new Map();
    for (const subscription of this.subscriptions) {
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

  /**
   * The server ended one subscription; the others go on. An expired one fails; one whose replay
   * could not read the log subscribes again from its position after a pause.
   */
  private ended({ subscriptionId, code, message }: SubscriptionEnded): void {
    const subscription = this.byServerId.get(subscriptionId);
    if (!subscription) return;
    this.byServerId.delete(subscriptionId);
    subscription.serverId = undefined;
    if (code === 'SINCE_EXPIRED') return subscription.fail(new RowcastError(code, message, true));
    subscription.report(new RowcastError(code, String(message), false));
    subscription.setStatus('connecting');
    this.attachLater(subscription, this.session);
  }

  /** Subscribes one subscription again on this connection after a pause that grows with each try. */
  private attachLater(subscription: LiveSubscription, session: number): void {
    const tries = this.attachTries.get(subscription) ?? 0;
    this.attachTries.set(subscription, tries + 1);
    setTimeout(() => {
      this.enqueue(async () => {
        if (session === this.session && this.subscriptions.has(subscription) && !subscription.serverId) await this.attach(subscription, session);
      });
    }, backoff(tries));
  }

  /** A notification for some of this connection's subscriptions, or a checkpoint (no `event`) for them. */
  private dispatch(message: NotificationMessage | CheckpointMessage): void {
    if (typeof message?.id !== 'string' || !NOTIFICATION_ID.test(message.id) || !Array.isArray(message.subscriptionIds)) return;
    const id = BigInt(message.id);
    const { subscriptionIds, ...notification } = message;
    for (const serverId of subscriptionIds) {
      const subscription = this.byServerId.get(serverId);
      if (!subscription) {
        if (this.awaitingAcks > 0) this.early.set(serverId, [...(this.early.get(serverId) ?? []), message]);
      } else if ('event' in notification) {
        subscription.deliver(notification, id);
      } else {
        subscription.advance(id);
      }
    }
  }

  /** A new connection: every subscription subscribes again, from its own position. */
  private async resubscribe(session: number): Promise<void> {
    for (const subscription of [...this.subscriptions]) {
      if (subscription.closed || subscription.serverId) continue;
      if (!(await this.attach(subscription, session))) return;
    }
    this.retries = 0;
  }

  /**
   * Subscribes one subscription on this connection, from its position (or from now on, when it has
   * none yet: the ack's cursor becomes it). False: this connection is done (changed, or to be
   * retried later).
   */
  private async attach(subscription: LiveSubscription, session: number): Promise<boolean> {
    const since = subscription.position;
    const ack = await this.request({ ...subscription.filter, ...(since !== undefined && { since: since.toString() }) }, session);
    if (!ack) return false;
    if (ack.ok) {
      const early = this.early.get(ack.subscriptionId) ?? [];
      if (this.awaitingAcks === 0) this.early.clear();
      if (subscription.closed || !this.subscriptions.has(subscription)) {
        this.socket!.emit(CLIENT_EVENTS.unsubscribe, { subscriptionId: ack.subscriptionId }, () => {});
        return true;
      }
      subscription.position ??= BigInt(ack.cursor);
      subscription.serverId = ack.subscriptionId;
      this.attachTries.delete(subscription);
      this.byServerId.set(ack.subscriptionId, subscription);
      subscription.setStatus('live');
      for (const message of early) this.dispatch(message);
      return true;
    }
    // Kept messages no ack claims are for subscriptions already gone.
    if (this.awaitingAcks === 0) this.early.clear();
    const { code, message } = ack.error;
    if (TRANSIENT.has(code)) {
      // This subscribe alone is tried again: the connection and its other subscriptions go on.
      subscription.report(new RowcastError(code, message, false));
      this.attachLater(subscription, session);
      return true;
    }
    subscription.fail(new RowcastError(code, message, true));
    return true;
  }

  /** The ack, or undefined when the connection changed (its successor resubscribes). */
  private async request(request: SubscribeRequest, session: number): Promise<SubscribeAck | undefined> {
    const socket = this.socket;
    if (!socket?.connected || session !== this.session) return undefined;
    this.awaitingAcks++;
    try {
      const ack = await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(CLIENT_EVENTS.subscribe, request);
      return session === this.session ? ack : undefined;
    } catch {
      // No answer: dropped meanwhile (its successor resubscribes), or a stuck connection.
      if (session === this.session) this.retryLater();
      return undefined;
    } finally {
      this.awaitingAcks--;
    }
  }

  private failAll(error: RowcastError): void {
    for (const subscription of [...this.subscriptions]) subscription.fail(error);
  }

  /** Closes this connection (if open) and reconnects after a pause that grows with each attempt. */
  private retryLater(error?: RowcastError): void {
    if (error) for (const subscription of this.subscriptions) subscription.report(error);
    if (this.socket?.active) this.socket.disconnect();
    if (this.retryTimer || this.paused || !this.subscriptions.size) return;
    const delay = backoff(this.retries++);
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
