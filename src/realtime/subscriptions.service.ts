import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Namespace, Socket } from 'socket.io';
import { TableCatalog, UnknownTables } from '../capture/table-catalog.js';
import { SERVER_EVENTS, type ErrorNotice } from '../../client/src/protocol.js';
import { validateMessage } from '../common/validation-message.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { StoredNotification } from '../events/event-catalog.js';
import { SubscribeDto, UnsubscribeDto } from './dto/subscribe.dto.js';
import { toNotificationMessage } from '../events/notification-message.js';
import { LiveTail } from '../log/live-tail.js';
import { NotificationLog } from '../log/notification-log.js';
import { Ack, refuse, sendAway } from './realtime.errors.js';
import { replayUntilLive, ReplayTarget } from './replay.js';
import { Subscription } from './subscription.js';

export const LIMITS = {
  /** Bytes of one subscribe/unsubscribe message, as JSON. */
  messageBytes: 16 * 1024,
  replayPage: 500,
  /** Packets waiting to be written to one client before it counts as not reading. */
  maxBufferedPackets: 5_000,
  /** How long a subscribe waits for the feed to start before it is refused as UNAVAILABLE. */
  readyWaitMs: 5_000,
};

/** Counted since the start: notification messages sent, and clients dropped for not reading. */
export interface SubscriptionStats {
  pushed: number;
  slowDisconnects: number;
}

interface Client {
  socket: Socket;
  subscriptions: Map<string, Subscription>;
  /** Every notification up to this id has been considered for this client (sent or not). */
  position: bigint;
  /** Replaying stored notifications; live pushes wait until it has caught up. */
  replaying: boolean;
  /** Something was sent on this connection: from then on its position only moves forward. */
  sentAny: boolean;
  /** Subscribe requests of one client run one after another. */
  queue: Promise<unknown>;
}

/**
 * Who subscribed to what, and live delivery to them: each notification at most once per client, in
 * ascending id order. A subscribe with `since` first replays the stored log (replay.ts, which
 * writes down the hand-over rule); live pushes skip a client until its replay hands it over.
 */
@Injectable()
export class SubscriptionsService {
  private readonly logger = new Logger(SubscriptionsService.name);
  private readonly clients = new Map<string, Client>();
  private namespace: Namespace | undefined;
  private readonly counts: SubscriptionStats = { pushed: 0, slowDisconnects: 0 };

  constructor(
    private readonly feed: LiveTail,
    private readonly log: NotificationLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tables: TableCatalog,
  ) {}

  attach(namespace: Namespace): void {
    this.namespace = namespace;
  }

  register(socket: Socket): void {
    this.clients.set(socket.id, {
      socket,
      subscriptions: new Map(),
      position: this.feed.lastId,
      replaying: false,
      sentAny: false,
      queue: Promise.resolve(),
    });
  }

  unregister(socket: Socket): void {
    this.clients.delete(socket.id);
  }

  get connectedClients(): number {
    return this.clients.size;
  }

  /** A copy of the counts, for /metrics to read: only this service moves them. */
  get stats(): SubscriptionStats {
    return { ...this.counts };
  }

  /** `allowedTables`: the tables the connection's API key may read (undefined: all). */
  subscribe(socket: Socket, payload: unknown, allowedTables?: readonly string[]): Promise<Ack> {
    const client = this.clients.get(socket.id);
    if (!client) return Promise.resolve(refuse('INVALID_REQUEST', 'not connected'));
    const work = client.queue
      .then(() => this.addSubscription(client, payload, allowedTables))
      .catch((error: unknown) => {
        // Every subscribe is answered, whatever happened.
        this.logger.error(`subscribe on ${socket.id} failed: ${error instanceof Error ? error.stack : String(error)}`);
        return refuse('INTERNAL', 'the subscription could not be made (an error in the service); try again');
      });
    client.queue = work;
    return work;
  }

  async unsubscribe(socket: Socket, payload: unknown): Promise<Ack> {
    const client = this.clients.get(socket.id);
    if (tooLarge(payload)) return refuse('MESSAGE_TOO_LARGE', `a message may hold at most ${LIMITS.messageBytes} bytes`);
    const parsed = await validateMessage(UnsubscribeDto, payload);
    if ('error' in parsed) return refuse('INVALID_REQUEST', parsed.error);
    if (!client?.subscriptions.delete(parsed.value.subscriptionId)) {
      return refuse('UNKNOWN_SUBSCRIPTION', `no subscription ${parsed.value.subscriptionId} on this connection`);
    }
    return { ok: true };
  }

  /** Live: called by the gateway for each batch the feed dispatches (ascending ids). */
  push(notifications: readonly StoredNotification[]): void {
    if (!this.namespace || notifications.length === 0) return;
    const live = [...this.clients.values()].filter((client) => !client.replaying && client.subscriptions.size > 0);
    for (const client of live) {
      if (buffered(client.socket) > LIMITS.maxBufferedPackets) this.dropSlow(client);
    }
    for (const notification of notifications) {
      const id = BigInt(notification.id);
      const receivers = live
        .filter((client) => id > client.position && this.clients.has(client.socket.id) && wants(client, notification))
        .map((client) => {
          client.sentAny = true;
          return client.socket.id;
        });
      // One emit to all receivers: Socket.IO encodes the packet once for all of them.
      if (receivers.length) this.namespace.to(receivers).emit(SERVER_EVENTS.notification, toNotificationMessage(notification));
      this.counts.pushed += receivers.length;
    }
    const last = BigInt(notifications[notifications.length - 1].id);
    for (const client of this.clients.values()) {
      if (!client.replaying && client.position < last) client.position = last;
    }
  }

  /** Shutdown: every client is told, and its transport closed so that it reconnects (elsewhere). */
  closeAll(notice: ErrorNotice): void {
    for (const client of this.clients.values()) {
      client.socket.emit(SERVER_EVENTS.errorNotice, notice);
      // Closing the transport, not the socket, lets the client's own reconnection take over;
      // engine.io writes what is buffered (the notice) before it closes.
      client.socket.conn.close();
    }
    this.clients.clear();
  }

  /**
   * Every client is told why and disconnected, as one that is slow or whose replay expired is: after
   * the server's disconnect Socket.IO does not reconnect, so a client must (the client library's
   * tests drop connections this way). Returns how many there were.
   */
  disconnectAll(notice: ErrorNotice): number {
    const clients = [...this.clients.values()];
    for (const client of clients) this.disconnect(client, notice);
    return clients.length;
  }

  private async addSubscription(client: Client, payload: unknown, allowedTables?: readonly string[]): Promise<Ack> {
    // Before the feed has read where the log ends, positions (and so since) mean nothing.
    const ready = await Promise.race([
      this.feed.ready.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, LIMITS.readyWaitMs, false).unref()),
    ]);
    if (!ready) return refuse('UNAVAILABLE', 'the service is not connected to its database yet; try again shortly');
    if (tooLarge(payload)) return refuse('MESSAGE_TOO_LARGE', `a message may hold at most ${LIMITS.messageBytes} bytes`);
    const parsed = await validateMessage(SubscribeDto, payload);
    if ('error' in parsed) return refuse('INVALID_REQUEST', parsed.error);
    const max = this.config.websocket.maxSubscriptionsPerSocket;
    if (client.subscriptions.size >= max) {
      return refuse('TOO_MANY_SUBSCRIPTIONS', `a connection may hold at most ${max} subscriptions`);
    }
    const unknown = await this.tables.unknown(parsed.value.tables ?? []);
    if (unknown.length) return refuse('INVALID_REQUEST', new UnknownTables(unknown).message);
    const request = restrictTables(parsed.value, allowedTables);
    if (typeof request === 'string') return refuse('FORBIDDEN', request);
    const since = request.since === undefined ? undefined : BigInt(request.since);
    if (since !== undefined) {
      const purged = await this.log.purgedThrough();
      if (since < purged) {
        return refuse('SINCE_EXPIRED', `notifications up to ${purged} have been deleted by retention; re-sync, then subscribe without since`);
      }
      // An id from the future (another service's, a typo) would silently skip what comes next.
      if (since > this.feed.lastId) {
        const newest = await this.log.lastId();
        if (since > newest) {
          return refuse('INVALID_REQUEST', `since ${since} is after the newest notification (${newest}): give an id this service sent, or leave since out`);
        }
      }
      // Ids ascend per connection: what was sent cannot be sent again, so an earlier since cannot be served.
      if (client.sentAny && since < client.position) {
        return refuse(
          'INVALID_REQUEST',
          `this connection has received notifications up to ${client.position}; since ${since} can only resume a new connection (or leave since out to subscribe from here)`,
        );
      }
    }
    const subscription = new Subscription(randomBytes(6).toString('base64url'), request);
    client.subscriptions.set(subscription.id, subscription);
    if (!client.sentAny && !client.replaying) {
      // Ids ascend per connection: once something was sent, a replay can only start from there.
      client.position = since ?? (client.position > this.feed.lastId ? client.position : this.feed.lastId);
    }
    const needsReplay = since !== undefined && client.position < this.feed.lastId;
    if (needsReplay && !client.replaying) {
      client.replaying = true;
      void this.replay(client).catch((error: unknown) => {
        this.logger.warn(`replay for ${client.socket.id} failed: ${String(error)}`);
        client.socket.disconnect(true);
      });
    }
    return { ok: true, subscriptionId: subscription.id, cursor: client.position.toString() };
  }

  private replay(client: Client): Promise<void> {
    const target: ReplayTarget = {
      get position() {
        return client.position;
      },
      set position(id: bigint) {
        client.position = id;
      },
      connected: () => this.clients.has(client.socket.id),
      wants: (notification) => wants(client, notification),
      send: (notification) => {
        client.sentAny = true;
        client.socket.emit(SERVER_EVENTS.notification, toNotificationMessage(notification));
        this.counts.pushed++;
      },
      writable: () => this.writable(client),
      expired: () => this.disconnect(client, { code: 'SINCE_EXPIRED', message: 'retention deleted notifications not yet replayed; re-sync' }),
      goLive: () => (client.replaying = false),
    };
    return replayUntilLive(target, this.log, this.feed, LIMITS.replayPage);
  }

  /** Replay waits for a client to read what it was sent; it never piles up more than a page. */
  private async writable(client: Client): Promise<void> {
    const conn = client.socket.conn;
    while (buffered(client.socket) > LIMITS.replayPage && this.clients.has(client.socket.id)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          conn.off('drain', done);
          resolve();
        };
        const timer = setTimeout(done, 1000);
        conn.once('drain', done);
      });
    }
  }

  private dropSlow(client: Client): void {
    this.logger.warn(`disconnecting ${client.socket.id}: it is not reading (${buffered(client.socket)} packets waiting)`);
    this.counts.slowDisconnects++;
    this.disconnect(client, { code: 'SLOW_CONSUMER', message: 'disconnected: not reading fast enough; reconnect with since' });
  }

  private disconnect(client: Client, notice: ErrorNotice): void {
    this.clients.delete(client.socket.id);
    sendAway(client.socket, notice);
  }
}

/** A key limited to some tables subscribes to those (or fewer); asking for others is refused. */
function restrictTables(request: SubscribeDto, allowed: readonly string[] | undefined): SubscribeDto | string {
  if (!allowed) return request;
  const refused = request.tables?.filter((table) => !allowed.includes(table)) ?? [];
  if (refused.length) return `this API key may not read ${refused.join(', ')}; it may read ${allowed.join(', ')}`;
  return { ...request, tables: request.tables ?? [...allowed] };
}

function wants(client: Client, notification: StoredNotification): boolean {
  for (const subscription of client.subscriptions.values()) if (subscription.matches(notification)) return true;
  return false;
}

/**
 * Packets waiting to be written to the client. engine.io keeps them in `writeBuffer` while the
 * transport cannot write (a client that does not read fills TCP, then this); the typings mark it
 * private, but it is the one measure of a client's backlog that Socket.IO has.
 */
function buffered(socket: Socket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

function tooLarge(payload: unknown): boolean {
  try {
    return Buffer.byteLength(JSON.stringify(payload) ?? '') > LIMITS.messageBytes;
  } catch {
    return true;
  }
}
