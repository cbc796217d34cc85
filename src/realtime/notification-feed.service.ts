import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import pg from 'pg';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DedicatedConnection } from '../database/dedicated-connection.js';
import {
  NOTIFICATIONS_CHANNEL,
  NotificationsAppendedEvent,
  NotificationsDrainedEvent,
  StoredNotification,
} from '../events/event-catalog.js';
import { NotificationLog } from '../notifications/notification-log.js';
import { PgListener } from '../capture/pg-listener.service.js';

const PAGE = 1000;
const SAFETY_POLL_MS = 1000;

/**
 * The live end of the notification log on every instance: dispatches each notification once, in
 * ascending id order, to this instance's subscribers (NotificationsAppendedEvent).
 *
 * On the draining instance the drainer hands each batch over right after its commit, and it is
 * dispatched without being read back, when it follows on from what was dispatched before. Every
 * other instance (and this one, whenever a hand-over does not follow on, e.g. after a takeover)
 * reads the log after its last id: woken by the drainer's NOTIFY per batch, whose payload (the
 * batch's last id) lets an instance that has it already skip the read, with a slow safety poll.
 */
@Injectable()
export class NotificationFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(NotificationFeed.name);
  private readonly connection: DedicatedConnection;
  private last = 0n;
  private started = false;
  private markReady!: () => void;
  /** Resolves once the feed knows where the log ends (its first read): positions are real after it. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly log: NotificationLog,
    private readonly listener: PgListener,
    private readonly events: EventEmitter2,
  ) {
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

  async onApplicationBootstrap(): Promise<void> {
    await this.connection.start((client) => this.session(client), 0);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.stop();
  }

  /** The drainer's batch, just committed on this instance. */
  @OnEvent(NotificationsDrainedEvent.eventName)
  handOver(event: NotificationsDrainedEvent): void {
    const { notifications } = event;
    if (!this.started || BigInt(notifications[0].id) !== this.last + 1n) {
      this.connection.wake(); // not the next one: the log has what lies between
      return;
    }
    this.dispatch(notifications);
  }

  /**
   * Whether a NOTIFY needs a read: not while this instance's drainer hands its batches over (a
   * hand-over that does not follow on wakes the feed itself), nor for a batch already dispatched.
   */
  private heard(message: pg.Notification): boolean {
    if (this.listener.getStatus().draining) return false;
    return !message.payload || !/^\d{1,19}$/.test(message.payload) || BigInt(message.payload) > this.last;
  }

  private async session(client: pg.Client): Promise<void> {
    const query = async <R>(text: string, values?: unknown[]) => (await client.query(text, values)).rows as R[];
    if (!this.started) {
      // New clients start from now; older notifications are theirs to ask for with `since`.
      this.last = await this.log.lastId(query);
      this.started = true;
      this.markReady();
    }
    while (this.connection.isRunning) {
      const page = await this.log.readAfter(this.last, PAGE, {}, query);
      this.connection.throwIfBroken();
      this.connection.succeeded();
      if (page.length) this.dispatch(page.filter((notification) => BigInt(notification.id) > this.last));
      if (page.length < PAGE) await this.connection.sleep(SAFETY_POLL_MS);
    }
  }

  /** Dispatch and the new position happen in one synchronous step: replays rely on it. */
  private dispatch(notifications: readonly StoredNotification[]): void {
    if (notifications.length === 0) return;
    this.events.emit(NotificationsAppendedEvent.eventName, new NotificationsAppendedEvent(notifications));
    this.last = BigInt(notifications[notifications.length - 1].id);
  }
}
