import { Logger } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { SERVER_EVENTS, type CheckpointMessage, type ErrorNotice, type SubscriptionEndCode, type SubscriptionEnded } from '../../client/src/protocol.js';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { StoredNotification } from '../events/event-catalog.js';
import { CoalesceSource, readCoalesced } from '../log/coalesce.js';
import { EncodedNotification, packetHead } from './notification-packets.js';
import { sendAway } from './realtime.errors.js';
import { LiveEnd, replayUntilLive, ReplaySource } from './replay.js';
import { Subscription } from './subscription.js';

export const DELIVERY_LIMITS = {
  replayPage: 500,
  /** Packets waiting to be written to one client before it counts as not reading. */
  maxBufferedPackets: 5_000,
  /** How often clients are told where their subscriptions are (checkpoint). */
  checkpointMs: 10_000,
  /** A coalescing subscription that is caught up reads again after each live batch, or after this long. */
  coalescedIdleMs: 1_000,
};

/** Counted since the start: notification messages sent, and clients dropped for not reading. */
export interface DeliveryStats {
  pushed: number;
  slowDisconnects: number;
}

/** One subscription as delivery keeps it: its filter and its own place in the log. */
interface Delivered {
  readonly subscription: Subscription;
  /** Every notification up to this id has been considered for this subscription (sent or not). */
  position: bigint;
  /**
   * Replaying stored notifications; live pushes pass it by until its replay hands it over. A
   * coalescing subscription is always read from the log (follow), never pushed.
   */
  replaying: boolean;
  /** Ends a coalescing subscription's wait for the next live batch. */
  readonly moved: WakeableSleep;
  /** The position the client knows of: its cursor, the last notification sent for it, or a checkpoint. */
  announced: bigint;
  /** Its id alone, and the start of a packet for it alone (packetHead): built once, sent often. */
  readonly ids: readonly string[];
  readonly head: string;
}

interface Connection {
  readonly socket: Socket;
  readonly subscriptions: Map<string, Delivered>;
}

/**
 * Delivery to this instance's clients, per subscription: each subscription has its own position,
 * its own replay and its own hand-over to live pushes, so that for each one ids ascend, with no gap
 * and no duplicate, whatever the connection's other subscriptions do. A notification that several
 * subscriptions of a connection want is sent once, naming them all. A client that does not read is
 * disconnected rather than buffered without bound.
 */
export class Delivery {
  private readonly logger = new Logger(Delivery.name);
  private readonly connections = new Map<string, Connection>();
  private readonly counts: DeliveryStats = { pushed: 0, slowDisconnects: 0 };

  constructor(
    private readonly log: ReplaySource & CoalesceSource,
    private readonly live: LiveEnd,
    /** Told of each notification pushed live, once however many sockets it went to (metrics time it from commit). */
    private readonly pushedLive: (notification: StoredNotification) => void = () => {},
  ) {}

  /**
   * The lowest position of this instance's subscriptions: every client here has been sent (or
   * passed) every notification it wants up to it. Undefined without subscriptions.
   */
  get lowestPosition(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const connection of this.connections.values()) {
      for (const { position } of connection.subscriptions.values()) if (lowest === undefined || position < lowest) lowest = position;
    }
    return lowest;
  }

  get connectedClients(): number {
    return this.connections.size;
  }

  get stats(): DeliveryStats {
    return { ...this.counts };
  }

  open(socket: Socket): void {
    this.connections.set(socket.id, { socket, subscriptions: new Map() });
  }

  close(socket: Socket): void {
    this.connections.delete(socket.id);
  }

  isOpen(socket: Socket): boolean {
    return this.connections.has(socket.id);
  }

  /** Whether any connection has a subscription: else nothing here needs the live end. */
  get subscribed(): boolean {
    for (const connection of this.connections.values()) if (connection.subscriptions.size) return true;
    return false;
  }

  subscriptionCount(socket: Socket): number {
    return this.connections.get(socket.id)?.subscriptions.size ?? 0;
  }

  /**
   * Starts delivering `subscription` after `since` (replaying the stored log first), or from the
   * live end when `since` is left out. Returns its starting position: the ack's cursor.
   */
  add(socket: Socket, subscription: Subscription, since: bigint | undefined): bigint {
    const connection = this.connections.get(socket.id);
    if (!connection) throw new Error(`socket ${socket.id} is not open`);
    const position = since ?? this.live.lastId;
    const ids = [subscription.id];
    const delivered: Delivered = {
      subscription,
      position,
      replaying: false,
      moved: new WakeableSleep(),
      announced: position,
      ids,
      head: packetHead(socket, ids),
    };
    connection.subscriptions.set(subscription.id, delivered);
    if (delivered.position < this.live.lastId || subscription.coalesced) {
      delivered.replaying = true;
      void (subscription.coalesced ? this.follow(connection, delivered) : this.replay(connection, delivered)).catch((error: unknown) => {
        this.logger.warn(`replay of subscription ${subscription.id} on ${socket.id} failed: ${String(error)}`);
        this.end(connection, delivered, {
          code: 'UNAVAILABLE',
          message: 'the replay could not read the log (the database, most likely): subscribe again with since your last id',
        });
      });
    }
    return delivered.position;
  }

  /** Stops delivering a subscription at once (a replay of it stops at its next step). */
  remove(socket: Socket, subscriptionId: string): boolean {
    const subscriptions = this.connections.get(socket.id)?.subscriptions;
    subscriptions?.get(subscriptionId)?.moved.wake();
    return subscriptions?.delete(subscriptionId) ?? false;
  }

  /** Live: each batch the feed dispatches, in ascending id order. */
  push(notifications: readonly StoredNotification[]): void {
    if (notifications.length === 0) return;
    for (const connection of this.connections.values()) {
      if (buffered(connection.socket) > DELIVERY_LIMITS.maxBufferedPackets) this.dropSlow(connection);
    }
    const connections = [...this.connections.values()].filter((connection) => connection.subscriptions.size > 0);
    for (const notification of notifications) {
      const id = BigInt(notification.id);
      let encoded: EncodedNotification | undefined;
      let sent = false;
      for (const connection of connections) {
        const wanting = receivers(connection, notification, id);
        if (!wanting) continue;
        encoded ??= new EncodedNotification(notification);
        try {
          if (wanting.length === 1) encoded.sendTo(connection.socket, wanting[0].ids, wanting[0].head);
          else encoded.sendTo(connection.socket, wanting.map((delivered) => delivered.subscription.id));
        } catch (error) {
          // One client's failure is that client's: the others, and the tail, go on.
          this.dropBroken(connection, error);
          continue;
        }
        // Moved once sent: a batch handed over again (the tail resynchronising this listener
        // after a throw) sends nothing twice.
        for (const delivered of wanting) delivered.position = delivered.announced = id;
        this.counts.pushed++;
        sent = true;
      }
      if (sent) this.pushedLive(notification);
    }
    const last = BigInt(notifications[notifications.length - 1].id);
    for (const connection of connections) {
      for (const delivered of connection.subscriptions.values()) {
        if (!delivered.replaying && delivered.position < last) delivered.position = last;
        if (delivered.subscription.coalesced) delivered.moved.wake();
      }
    }
  }

  /**
   * Tells each client where its subscriptions are when that has moved past the last notification
   * sent for them (`checkpoint`): one that matches rarely then resumes from near the end of the log,
   * not from its last notification, however old.
   */
  checkpoint(): void {
    for (const { socket, subscriptions } of this.connections.values()) {
      const byPosition = new Map<bigint, string[]>();
      for (const delivered of subscriptions.values()) {
        if (delivered.announced >= delivered.position) continue;
        delivered.announced = delivered.position;
        byPosition.set(delivered.position, [...(byPosition.get(delivered.position) ?? []), delivered.subscription.id]);
      }
      for (const [id, subscriptionIds] of byPosition) {
        socket.emit(SERVER_EVENTS.checkpoint, { subscriptionIds, id: id.toString() } satisfies CheckpointMessage);
      }
    }
  }

  /** Every client is told why and its transport closed, so that it reconnects (elsewhere). */
  closeAll(notice: ErrorNotice): void {
    for (const { socket } of this.connections.values()) {
      socket.emit(SERVER_EVENTS.errorNotice, notice);
      // Closing the transport, not the socket, lets the client's own reconnection take over;
      // engine.io writes what is buffered (the notice) before it closes.
      socket.conn.close();
    }
    this.connections.clear();
  }

  /** Every client is told why and disconnected for good (Socket.IO clients do not reconnect then). */
  disconnectAll(notice: ErrorNotice): number {
    const connections = [...this.connections.values()];
    for (const connection of connections) this.disconnect(connection, notice);
    return connections.length;
  }

  private replay(connection: Connection, delivered: Delivered): Promise<void> {
    const { socket } = connection;
    const current = () => this.connections.get(socket.id)?.subscriptions.get(delivered.subscription.id) === delivered;
    return replayUntilLive(
      {
        get position() {
          return delivered.position;
        },
        set position(id: bigint) {
          delivered.position = id;
        },
        connected: current,
        // Unsubscribed (or disconnected) halfway through a page: nothing more is sent for it.
        wants: (notification) => current() && delivered.subscription.matches(notification),
        send: (notification) => {
          delivered.announced = BigInt(notification.id);
          new EncodedNotification(notification).sendTo(socket, delivered.ids, delivered.head);
          this.counts.pushed++;
        },
        writable: () => this.writable(connection),
        expired: () =>
          this.end(connection, delivered, { code: 'SINCE_EXPIRED', message: 'retention deleted notifications this replay had not sent yet; re-sync' }),
        goLive: () => (delivered.replaying = false),
      },
      this.log,
      this.live,
      DELIVERY_LIMITS.replayPage,
    );
  }

  /**
   * A coalescing subscription (`coalesce: 'transaction'`): reads the log's net changes after its
   * position (readCoalesced) and sends those that match, for as long as it is subscribed; once
   * caught up, it reads again after each live batch. Its position is always one a resume can start
   * from: a net change's id, or where a page of complete transactions ended.
   */
  private async follow(connection: Connection, delivered: Delivered): Promise<void> {
    const { socket } = connection;
    const current = () => this.connections.get(socket.id)?.subscriptions.get(delivered.subscription.id) === delivered;
    while (current()) {
      await this.writable(connection);
      const page = await readCoalesced(this.log, delivered.position);
      if ((await this.log.purgedThrough()) > delivered.position) {
        this.end(connection, delivered, { code: 'SINCE_EXPIRED', message: 'retention deleted notifications this subscription had not been sent yet; re-sync' });
        return;
      }
      for (const notification of page.notifications) {
        if (!current()) return;
        if (!delivered.subscription.matches(notification)) continue;
        new EncodedNotification(notification).sendTo(socket, delivered.ids, delivered.head);
        delivered.announced = delivered.position = BigInt(notification.id);
        this.counts.pushed++;
      }
      const moved = page.through > delivered.position;
      if (moved) delivered.position = page.through;
      // Caught up (or a transaction still open at the end): until the next live batch.
      if (!moved || delivered.position >= this.live.lastId) await delivered.moved.sleep(DELIVERY_LIMITS.coalescedIdleMs);
    }
  }

  /** Replay waits for a client to read what it was sent; it never piles up more than a page. */
  private async writable(connection: Connection): Promise<void> {
    const conn = connection.socket.conn;
    while (buffered(connection.socket) > DELIVERY_LIMITS.replayPage && this.connections.has(connection.socket.id)) {
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

  /**
   * Ends one subscription and tells the client why (`subscription_ended`); the connection and its
   * other subscriptions go on.
   */
  private end(connection: Connection, delivered: Delivered, reason: { code: SubscriptionEndCode; message: string }): void {
    if (connection.subscriptions.get(delivered.subscription.id) !== delivered) return;
    connection.subscriptions.delete(delivered.subscription.id);
    connection.socket.emit(SERVER_EVENTS.subscriptionEnded, { subscriptionId: delivered.subscription.id, ...reason } satisfies SubscriptionEnded);
  }

  private dropBroken(connection: Connection, error: unknown): void {
    this.logger.warn(`disconnecting ${connection.socket.id}: a notification could not be written to it (${String(error)})`);
    connection.subscriptions.clear();
    this.connections.delete(connection.socket.id);
    connection.socket.disconnect(true);
  }

    private dropSlow(connection: Connection): void {
    this.logger.warn(`disconnecting ${connection.socket.id}: it is not reading (${buffered(connection.socket)} packets waiting)`);
    this.counts.slowDisconnects++;
    this.disconnect(connection, { code: 'SLOW_CONSUMER', message: 'disconnected: not reading fast enough; reconnect with since' });
  }

  private disconnect(connection: Connection, notice: ErrorNotice): void {
    this.connections.delete(connection.socket.id);
    sendAway(connection.socket, notice);
  }
}

/** The connection's live subscriptions that want the notification and have not had it yet. */
function receivers(connection: Connection, notification: StoredNotification, id: bigint): Delivered[] | undefined {
  let wanting: Delivered[] | undefined;
  for (const delivered of connection.subscriptions.values()) {
    if (delivered.replaying || id <= delivered.position || !delivered.subscription.matches(notification)) continue;
    (wanting ??= []).push(delivered);
  }
  return wanting;
}

/**
 * Packets waiting to be written to the client. engine.io keeps them in `writeBuffer` while the
 * transport cannot write (a client that does not read fills TCP, then this); the typings mark it
 * private, but it is the one measure of a client's backlog that Socket.IO has.
 */
function buffered(socket: Socket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}
