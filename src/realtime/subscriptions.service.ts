import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io';
import { TableCatalog, UnknownEvents, UnknownTables } from '../capture/table-catalog.js';
import { type ErrorNotice } from '../../client/src/protocol.js';
import { validateMessage } from '../common/validation-message.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { StoredNotification } from '../events/event-catalog.js';
import { NotificationLog } from '../log/notification-log.js';
import { admit, ConnectionFacts, isRefusal, LogFacts } from './admission.js';
import { Delivery, DELIVERY_LIMITS, DeliveryStats } from './delivery.js';
import { SubscribeDto, UnsubscribeDto } from './dto/subscribe.dto.js';
import { LiveTail } from '../log/live-tail.js';
import { Ack, refuse } from './realtime.errors.js';
import { Subscription } from './subscription.js';
import { Listeners } from '../common/listeners.js';

export const LIMITS = {
  /** Bytes of one subscribe/unsubscribe message, as JSON. */
  messageBytes: 16 * 1024,
  /** How long a subscribe waits for the feed to start before it is refused as UNAVAILABLE. */
  readyWaitMs: 5_000,
};

export type SubscriptionStats = DeliveryStats;

/**
 * The WebSocket subscriptions of this instance's clients: each subscribe is parsed, admitted
 * (admission.ts: caps, tables, keys, `since`) and handed to delivery (delivery.ts: each
 * subscription's own position, replay and live push). A connection's subscribes are answered one
 * after another, in the order they came.
 */
@Injectable()
export class SubscriptionsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SubscriptionsService.name);
  private readonly delivery: Delivery;
  private checkpoints: ReturnType<typeof setInterval> | undefined;
  /** Per connection: its subscribe requests run one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly pushedListeners = new Listeners<[notification: StoredNotification]>((error) => this.logger.warn(`a listener of live pushes failed: ${error instanceof Error ? error.message : String(error)}`));

  constructor(
    private readonly feed: LiveTail,
    private readonly log: NotificationLog,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tables: TableCatalog,
  ) {
    this.delivery = new Delivery(log, feed, (notification) => this.pushedListeners.tell(notification));
  }

  /**
   * Calls `listener` with each notification pushed live to this instance's clients, once however
   * many sockets it went to (replays aside): metrics time it from commit. Returns its removal.
   */
  onPushed(listener: (notification: StoredNotification) => void): () => void {
    return this.pushedListeners.add(listener);
  }

  /** See Delivery.lowestPosition: where the furthest-behind subscription here stands. */
  get lowestPosition(): bigint | undefined {
    return this.delivery.lowestPosition;
  }

  onApplicationBootstrap(): void {
    this.checkpoints = setInterval(() => this.checkpoint(), DELIVERY_LIMITS.checkpointMs).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.checkpoints);
  }

  /** Tells clients where their subscriptions are, where that moved past what was sent (delivery.ts). */
  checkpoint(): void {
    this.delivery.checkpoint();
  }

  register(socket: Socket): void {
    this.delivery.open(socket);
    this.queues.set(socket.id, Promise.resolve());
  }

  unregister(socket: Socket): void {
    this.delivery.close(socket);
    this.queues.delete(socket.id);
  }

  /** Whether any client here has a subscription (the live tail reads the log only for someone). */
  get subscribed(): boolean {
    return this.delivery.subscribed;
  }

  get connectedClients(): number {
    return this.delivery.connectedClients;
  }

  /** A copy of the counts, for /metrics to read: only delivery moves them. */
  get stats(): SubscriptionStats {
    return this.delivery.stats;
  }

  /** `allowedTables`: the tables the connection's API key may read (undefined: all). */
  subscribe(socket: Socket, payload: unknown, allowedTables?: readonly string[]): Promise<Ack> {
    const queue = this.queues.get(socket.id);
    if (!queue || !this.delivery.isOpen(socket)) return Promise.resolve(refuse('INVALID_REQUEST', 'not connected'));
    const work = queue
      .then(() => this.addSubscription(socket, payload, allowedTables))
      .catch((error: unknown) => {
        // Every subscribe is answered, whatever happened.
        this.logger.error(`subscribe on ${socket.id} failed: ${error instanceof Error ? error.stack : String(error)}`);
        return refuse('INTERNAL', 'the subscription could not be made (an error in the service); try again');
      });
    this.queues.set(socket.id, work);
    return work;
  }

  async unsubscribe(socket: Socket, payload: unknown): Promise<Ack> {
    if (tooLarge(payload)) return refuse('MESSAGE_TOO_LARGE', `a message may hold at most ${LIMITS.messageBytes} bytes`);
    const parsed = await validateMessage(UnsubscribeDto, payload);
    if ('error' in parsed) return refuse('INVALID_REQUEST', parsed.error);
    if (!this.delivery.remove(socket, parsed.value.subscriptionId)) {
      return refuse('UNKNOWN_SUBSCRIPTION', `no subscription ${parsed.value.subscriptionId} on this connection`);
    }
    return { ok: true };
  }

  /** Live: called for each batch the feed dispatches (ascending ids). */
  push(notifications: readonly StoredNotification[]): void {
    this.delivery.push(notifications);
  }

  /** Shutdown: every client is told, and its transport closed so that it reconnects (elsewhere). */
  closeAll(notice: ErrorNotice): void {
    this.delivery.closeAll(notice);
  }

  /**
   * Every client is told why and disconnected, as one that is slow or whose replay expired is: after
   * the server's disconnect Socket.IO does not reconnect, so a client must (the client library's
   * tests drop connections this way). Returns how many there were.
   */
  disconnectAll(notice: ErrorNotice): number {
    return this.delivery.disconnectAll(notice);
  }

  private async addSubscription(socket: Socket, payload: unknown, allowedTables?: readonly string[]): Promise<Ack> {
    // Before the feed has read where the log ends, positions (and so since) mean nothing.
    const ready = await Promise.race([
      this.feed.ready.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(resolve, LIMITS.readyWaitMs, false).unref()),
    ]);
    if (!ready) return refuse('UNAVAILABLE', 'the service is not connected to its database yet; try again shortly');
    if (tooLarge(payload)) return refuse('MESSAGE_TOO_LARGE', `a message may hold at most ${LIMITS.messageBytes} bytes`);
    const parsed = await validateMessage(SubscribeDto, payload);
    if ('error' in parsed) return refuse('INVALID_REQUEST', parsed.error);
    const connection: ConnectionFacts = {
      subscriptions: this.delivery.subscriptionCount(socket),
      maxSubscriptions: this.config.websocket.maxSubscriptionsPerSocket,
      allowedTables,
    };
    const admission = admit(parsed.value, connection, await this.logFacts(parsed.value));
    if (isRefusal(admission)) return refuse(admission.code, admission.message);
    // The connection may have closed while the log was asked.
    if (!this.delivery.isOpen(socket)) return refuse('INVALID_REQUEST', 'not connected');
    const subscription = new Subscription(randomBytes(6).toString('base64url'), admission.request);
    const cursor = this.delivery.add(socket, subscription, admission.since);
    return { ok: true, subscriptionId: subscription.id, cursor: cursor.toString() };
  }

  /** What admission needs to know of the log and the catalog: asked only when the request needs it. */
  private async logFacts(request: SubscribeDto): Promise<LogFacts> {
    const facts: LogFacts = { purgedThrough: 0n, newest: this.feed.lastId };
    try {
      await this.tables.check(request.tables, request.events);
    } catch (error) {
      if (error instanceof UnknownTables || error instanceof UnknownEvents) return { ...facts, unknownNames: error.message };
      throw error;
    }
    if (request.since === undefined) return facts;
    facts.purgedThrough = await this.log.purgedThrough();
    if (BigInt(request.since) > facts.newest) facts.newest = await this.log.lastId();
    return facts;
  }
}

function tooLarge(payload: unknown): boolean {
  try {
    return Buffer.byteLength(JSON.stringify(payload) ?? '') > LIMITS.messageBytes;
  } catch {
    return true;
  }
}
