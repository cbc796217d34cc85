import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DedicatedConnection } from '../database/dedicated-connection.js';
import { NotificationsDrainedEvent } from '../events/event-catalog.js';
import { NotificationLog, RunStatement } from '../notifications/notification-log.js';
import { JournalReader } from './journal-reader.js';

/** Any constant shared by every instance: the holder of this advisory lock is the one drainer. */
const DRAIN_LOCK = 7_160_902;
/** What writers NOTIFY while the drainer sleeps (capture.wake_drainer); a test holds the migrations' SQL to it. */
export const WAKE_UP_CHANNEL = 'capture';

export interface ListenerStatus {
  /** The dedicated connection is up and listening. */
  connected: boolean;
  /** This instance holds the drain lock (the others stand by to take over). */
  draining: boolean;
  reconnects: number;
  /** Largest batch read so far (rows); bounded by CAPTURE_BATCH_SIZE. */
  largestBatch: number;
  /** Journal rows drained (committed) by this instance. */
  drained: number;
  /** Times this instance looked for work and found its answer (a drain, or nothing new). */
  rounds: number;
}

export interface Backlog {
  backlog: number;
  lagMs: number;
}

const BACKLOG_MAX_AGE_MS = 1000;
const BACKLOG_TIMEOUT_MS = 2000;

/**
 * Owns one dedicated connection: LISTENs for wake-ups, holds the drain lock, and drains the
 * journal in commit order. Each batch goes to the notification log (a required sink: the drain
 * transaction commits only after it returned), then the cursor advances in the same transaction;
 * after the commit, this instance's feed gets the batch at once (NotificationsDrainedEvent), and
 * every other instance's feed hears of it by the log's NOTIFY. A lost connection or a failed batch
 * rolls back and starts over from the persisted cursor: nothing is lost, nothing done twice.
 */
@Injectable()
export class PgListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(PgListener.name);
  private readonly reader: JournalReader;
  private readonly connection: DedicatedConnection;
  private readonly status = { draining: false, largestBatch: 0, drained: 0, rounds: 0 };
  private recentBacklog: { at: number; value: Promise<Backlog | undefined> } | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly log: NotificationLog,
    private readonly events: EventEmitter2,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {
    this.reader = new JournalReader(config.capture.batchSize, config.capture.batchBytes);
    this.connection = new DedicatedConnection({
      url: config.databaseUrl,
      applicationName: 'rowcast-listener',
      channels: [WAKE_UP_CHANNEL],
      maxBackoffMs: config.capture.maxBackoffMs,
      logger: this.logger,
    });
  }

  /** Starts draining; the app is ready once the first connection attempt has ended (bounded). */
  async onApplicationBootstrap(): Promise<void> {
    await this.connection.start((client) => this.session(client));
  }

  /**
   * Finishes the batch in flight (its transaction commits), then closes. Runs before Nest closes
   * the HTTP server, so a slow HTTP client cannot hold the drain up.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.connection.stop();
  }

  getStatus(): ListenerStatus {
    return {
      connected: this.connection.connected,
      draining: this.status.draining && this.connection.connected,
      reconnects: this.connection.reconnects,
      largestBatch: this.status.largestBatch,
      drained: this.status.drained,
      rounds: this.status.rounds,
    };
  }

  /**
   * Undrained journal rows and the age of the oldest, read through the pool (this connection may
   * be asleep or mid-batch) at most once a second for everyone who asks (/health, /metrics);
   * undefined when the database did not answer within 2 s, so that neither hangs on it.
   */
  backlog(): Promise<Backlog | undefined> {
    if (!this.recentBacklog || Date.now() - this.recentBacklog.at > BACKLOG_MAX_AGE_MS) {
      const read = this.reader.backlog((sql) => this.dataSource.query(sql));
      const timeout = new Promise<undefined>((resolve) => setTimeout(resolve, BACKLOG_TIMEOUT_MS, undefined).unref());
      this.recentBacklog = { at: Date.now(), value: Promise.race([read, timeout]).catch(() => undefined) };
    }
    return this.recentBacklog.value;
  }

  private async session(client: pg.Client): Promise<void> {
    const { capture } = this.config;
    this.status.draining = false;
    while (this.connection.isRunning && !(await this.tryLock(client))) {
      await this.connection.sleep(capture.takeoverIntervalMs);
      this.connection.throwIfBroken();
    }
    if (!this.connection.isRunning) return;
    this.status.draining = true;
    this.logger.log('draining the journal');
    try {
      // Whether writers NOTIFY us (the flag in capture.wakeup): while we wait for a commit, yes, so
      // that its NOTIFY wakes us at once; while changes keep coming, no (no commit lock for them).
      let woken = false;
      const wakeOnCommit = async (on: boolean) => {
        if (woken !== on) await this.setListening(client, on);
        woken = on;
      };
      await wakeOnCommit(false); // whatever a previous drainer left
      let busy = false;
      while (this.connection.isRunning) {
        this.connection.throwIfBroken();
        // After a batch there is likely more: drain at once. Otherwise one cheap look first.
        const started = performance.now();
        const drained: number = busy || (await this.reader.hasWork(client)) ? await this.drainOnce(client) : 0;
        this.status.rounds++;
        this.connection.succeeded();
        if (drained > 0) {
          // Two batches in a row: changes keep coming, so poll instead of being NOTIFYed.
          if (busy) await wakeOnCommit(false);
          busy = true;
          // A full batch means a backlog: go on at once. Otherwise let the next batch gather.
          const wait = capture.drainIntervalMs - (performance.now() - started);
          if (drained < capture.batchSize && wait >= 1) await this.connection.sleep(wait);
          continue;
        }
        busy = false;
        // Nothing new: be woken by the next commit. A writer that read the flag just before it
        // was set does not NOTIFY, but commits within moments: look again after a short wait,
        // then sleep until a NOTIFY, with a safety poll for a long transaction that raced the flag.
        await wakeOnCommit(true);
        if (await this.reader.hasWork(client)) continue;
        await this.connection.sleep(capture.flagRaceMs);
        if (await this.reader.hasWork(client)) continue;
        await this.connection.sleep(capture.safetyPollMs);
      }
      // A stopped drainer must not leave writers NOTIFYing (and taking the commit lock) for nobody.
      if (!this.connection.broken) await this.setListening(client, false).catch(() => undefined);
    } finally {
      this.status.draining = false;
    }
  }

  private async tryLock(client: pg.Client): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [DRAIN_LOCK]);
    return rows[0].locked;
  }

  private async setListening(client: pg.Client, listening: boolean): Promise<void> {
    // An unlogged table loses its row after a crash; upsert puts it back.
    await client.query(
      `INSERT INTO capture.wakeup (id, listening) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET listening = excluded.listening`,
      [listening],
    );
  }

  /** One batch in one statement (its own transaction); returns how many journal rows it moved. */
  private async drainOnce(client: pg.Client): Promise<number> {
    const run: RunStatement = async (statement, values) => (await client.query({ ...statement, values })).rows;
    // The log runs capture's read inside its own insert: if either fails, neither happened.
    const { taken, notifications } = await this.log.appendFrom(run, this.reader.nextBatch());
    this.status.largestBatch = Math.max(this.status.largestBatch, taken);
    this.status.drained += taken;
    if (notifications.length) this.events.emit(NotificationsDrainedEvent.eventName, new NotificationsDrainedEvent(notifications));
    return taken;
  }
}
