import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DedicatedConnection } from '../database/dedicated-connection.js';
import { clientSql } from '../database/sql.js';
import { NOTIFICATION_ID, StoredNotification } from '../events/event-catalog.js';
import { NOTIFICATIONS_CHANNEL } from './channels.js';
import { NotificationLog } from './notification-log.js';
import { TailListener, TailListeners } from './tail-listeners.js';

export type { TailListener } from './tail-listeners.js';

const PAGE = 1000;
const SAFETY_POLL_MS = 1000;

/**
 * The live end of the notification log on every instance: calls each listener (WebSocket push,
 * sinks) with each new notification once, in ascending id order (see TailListener).
 *
 * On the draining instance the drainer hands each batch over right after its commit (handOver),
 * and it is dispatched without being read back, when it follows on from what was dispatched
 * before. Every other instance (and this one, whenever a hand-over does not follow on, e.g. after
 * a takeover) reads the log after its last id: woken by the drainer's NOTIFY per batch, whose
 * payload (the batch's last id) lets an instance that has it already skip the read, with a slow
 * safety poll.
 */
@Injectable()
export class LiveTail implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LiveTail.name);
  private readonly connection: DedicatedConnection;
  private readonly listeners: TailListeners;
  private last = 0n;
  /** The highest batch end a NOTIFY named: the next read can stop there, in one statement. */
  private heardEnd = 0n;
  private started = false;
  /** This instance's drainer hands its batches over: their NOTIFYs need no read. */
  private drainingHere = false;
  private markReady!: () => void;
  /** Resolves once the tail knows where the log ends (its first read): positions are real after it. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));
  /** Notifications this instance's tail followed: dispatched, or passed while no one wanted them (/metrics). */
  dispatched = 0;
  /** Reads of the log by this tail (/metrics): none while no listener wants notifications. */
  reads = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly log: NotificationLog,
  ) {
    this.listeners = new TailListeners(log, () => this.last, this.logger);
    this.connection = new DedicatedConnection({
      url: config.databaseUrl,
      applicationName: 'rowcast-feed',
      channels: [NOTIFICATIONS_CHANNEL],
      maxBackoffMs: config.capture.maxBackoffMs,
      logger: this.logger,
      onNotification: (message) => this.heard(message),
    });
  }

  /** The highest notification id dispatched so far on this instance. */
  get lastId(): bigint {
    return this.last;
  }

  /**
   * Calls `listener` with every notification dispatched from now on (see TailListener) while
   * `wants` says so (TailListeners.listen); returns its removal.
   */
  listen(name: string, listener: TailListener, wants?: () => boolean): () => void {
    return this.listeners.listen(name, listener, wants);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.connection.start((client) => this.session(client), 0);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.stop();
    await this.listeners.stop();
  }

  /** From the drainer: whether it drains on this instance (and so hands every batch over). */
  setDrainingHere(draining: boolean): void {
    this.drainingHere = draining;
  }

  /** From the drainer: its batch (ascending ids), just committed on this instance. */
  handOver(notifications: readonly StoredNotification[]): void {
    if (!this.started || BigInt(notifications[0].id) !== this.last + 1n) {
      this.connection.wake(); // not the next one: the log has what lies between
      return;
    }
    this.dispatch(notifications);
  }

  /**
   * Whether a NOTIFY needs a read: not while this instance's drainer hands its batches over (a
   * hand-over that does not follow on wakes the tail itself), nor for a batch already dispatched,
   * nor while no listener wants notifications (no client subscribed here, no sink delivered here):
   * the tail then moves past the batch without reading it, in the same synchronous step as the
   * check, so a subscription made after it starts after the batch.
   */
  private heard(message: pg.Notification): boolean {
    if (this.drainingHere) return false;
    if (!message.payload || !NOTIFICATION_ID.test(message.payload)) return true;
    const end = BigInt(message.payload);
    if (end <= this.last) return false;
    if (end > this.heardEnd) this.heardEnd = end;
    if (this.started && !this.listeners.wanted) {
      this.pass(end);
      return false;
    }
    return true;
  }

  private async session(client: pg.Client): Promise<void> {
    // Prepared: the same few statements, once per batch, on every instance.
    const sql = clientSql(client, { prepared: true });
    if (!this.started) {
      // New clients start from now; older notifications are theirs to ask for with `since`.
      this.last = await this.log.lastId(sql);
      this.started = true;
      this.markReady();
    }
    while (this.connection.isRunning) {
      if (!this.listeners.wanted) {
        // The safety poll, for no one: where the log ends is enough (an index probe).
        const end = await this.log.lastId(sql);
        this.connection.throwIfBroken();
        this.connection.succeeded();
        if (end > this.last && !this.listeners.wanted) this.pass(end);
        await this.connection.sleep(SAFETY_POLL_MS);
        continue;
      }
      // Up to the batch a NOTIFY named, when it is near: one statement, not a window's two.
      this.reads++;
      const page =
        this.heardEnd > this.last && this.heardEnd - this.last <= BigInt(PAGE)
          ? await this.log.readThrough(this.last, this.heardEnd, sql)
          : await this.log.readAfter(this.last, PAGE, {}, sql);
      this.connection.throwIfBroken();
      this.connection.succeeded();
      if (page.length) this.dispatch(page.filter((notification) => BigInt(notification.id) > this.last));
      if (page.length < PAGE) await this.connection.sleep(SAFETY_POLL_MS);
    }
  }

  /** Moves the position past notifications no listener wants (they are in the log), unread. */
  private pass(end: bigint): void {
    this.dispatched += Number(end - this.last);
    this.last = end;
  }

  /** Dispatch and the new position happen in one synchronous step: replays rely on it. */
  private dispatch(notifications: readonly StoredNotification[]): void {
    if (notifications.length === 0) return;
    this.listeners.dispatch(notifications);
    this.last = BigInt(notifications[notifications.length - 1].id);
    this.dispatched += notifications.length;
  }
}
