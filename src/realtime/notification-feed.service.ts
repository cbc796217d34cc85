import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import pg from 'pg';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { backoff, WakeableSleep } from '../database/wakeable-sleep.js';
import { NOTIFICATIONS_CHANNEL, NotificationsAppendedEvent } from '../events/event-catalog.js';
import { fromRow, NOTIFICATION_COLUMNS, NotificationRow } from '../events/notification-row.js';

const PAGE = 1000;
const SAFETY_POLL_MS = 1000;

/**
 * Tails the notification log on every instance (one writer, the drainer, commits ids in order),
 * so each instance pushes every notification to its own clients. Woken by the drainer's NOTIFY
 * after each batch, with a slow safety poll; after a lost connection it resumes from the last id
 * it dispatched, so nothing is skipped or sent twice.
 */
@Injectable()
export class NotificationFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(NotificationFeed.name);
  private readonly sleeper = new WakeableSleep();
  private client: pg.Client | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private last = 0n;
  private markReady!: () => void;
  /** Resolves once the feed knows where the log ends (its first read): positions are real after it. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly events: EventEmitter2,
  ) {}

  /** The highest notification id dispatched so far on this instance. */
  get lastId(): bigint {
    return this.last;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.running = true;
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.sleeper.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let started = false;
    while (this.running) {
      try {
        const client = await this.connect();
        if (!started) {
          // New clients start from now; older notifications are theirs to ask for with `since`.
          const { rows } = await client.query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM notifications`);
          this.last = BigInt(rows[0].id);
          started = true;
          this.markReady();
        }
        for (;;) {
          if (!this.running) break;
          const read = await this.readPage(client);
          failures = 0;
          if (read < PAGE) await this.sleeper.sleep(SAFETY_POLL_MS);
        }
      } catch (error) {
        if (!this.running) break;
        failures++;
        const delay = backoff(failures, this.config.capture.maxBackoffMs);
        this.logger.warn(`notification feed lost its connection (${String(error)}); reconnecting in ${delay} ms`);
        await this.disconnect();
        this.sleeper.forget(); // only shutdown may cut a backoff short
        if (this.running) await this.sleeper.sleep(delay);
      }
    }
    await this.disconnect();
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      application_name: 'rowcast-feed',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    // A broken connection: the next query fails and the loop reconnects.
    client.on('error', () => client === this.client && this.sleeper.wake());
    client.on('notification', () => this.sleeper.wake());
    this.client = client;
    await client.connect();
    await client.query(`LISTEN ${NOTIFICATIONS_CHANNEL}`);
    return client;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  /** Reads and dispatches one page after the last id; returns how many it read. */
  private async readPage(client: pg.Client): Promise<number> {
    const { rows } = await client.query<NotificationRow>(
      `SELECT ${NOTIFICATION_COLUMNS} FROM notifications n WHERE n.id > $1 ORDER BY n.id LIMIT ${PAGE}`,
      [this.last.toString()],
    );
    if (rows.length === 0) return 0;
    const notifications = rows.map(fromRow);
    // Dispatch and the new position happen in one synchronous step: a replay that compares its
    // position with lastId never sees one without the other.
    this.events.emit(NotificationsAppendedEvent.eventName, new NotificationsAppendedEvent(notifications));
    this.last = BigInt(rows[rows.length - 1].id);
    return rows.length;
  }
}
