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
  private started = false;
  /** This instance's drainer hands its batches over: their NOTIFYs need no read. */
  private drainingHere = false;
  private markReady!: () => void;
  /** Resolves once the tail knows where the log ends (its first read): positions are real after it. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));
  /** Notifications dispatched on this instance (/metrics). */
  dispatched = 0;

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

  /** Calls `listener` with every notification dispatched from now on (see TailListener); returns its removal. */
  listen(name: string, listener: TailListener): () => void {
    return this.listeners.listen(name, listener);
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
   * hand-over that does not follow on wakes the tail itself), nor for a batch already dispatched.
   */
  private heard(message: pg.Notification): boolean {
    if (this.drainingHere) return false;
    return !message.payload || !NOTIFICATION_ID.test(message.payload) || BigInt(message.payload) > this.last;
  }

  private async session(client: pg.Client): Promise<void> {
    const sql = clientSql(client);
    if (!this.started) {
      // New clients start from now; older notifications are theirs to ask for with `since`.
      this.last = await this.log.lastId(sql);
      this.started = true;
      this.markReady();
    }
    while (this.connection.isRunning) {
      const page = await this.log.readAfter(this.last, PAGE, {}, sql);
      this.connection.throwIfBroken();
      this.connection.succeeded();
      if (page.length) this.dispatch(page.filter((notification) => BigInt(notification.id) > this.last));
      if (page.length < PAGE) await this.connection.sleep(SAFETY_POLL_MS);
    }
  }

  /** Dispatch and the new position happen in one synchronous step: replays rely on it. */
  private dispatch(notifications: readonly StoredNotification[]): void {
    if (notifications.length === 0) return;
    this.listeners.dispatch(notifications);
    this.last = BigInt(notifications[notifications.length - 1].id);
    this.dispatched += notifications.length;
  }
}
