import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BackgroundReading } from '../database/background-reading.js';
import { DedicatedConnection } from '../database/dedicated-connection.js';
import { clientSql, poolSql, Sql } from '../database/sql.js';
import { StoredNotification } from '../events/event-catalog.js';
import { WAKE_UP_CHANNEL } from './channels.js';
import { LiveTail } from './live-tail.js';
import { NotificationLog } from './notification-log.js';
import { hasWork } from './sql/has-work.js';
import { setWakeup } from './sql/set-wakeup.js';
import { tryDrainLock } from './sql/try-drain-lock.js';
import { estimateBacklog } from './sql/estimate-backlog.js';
import { Listeners } from '../common/listeners.js';

/** Any constant shared by every instance: the holder of this advisory lock is the one drainer. */
const DRAIN_LOCK = 7_160_902;

export interface DrainerStatus {
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
  /** Milliseconds this instance spent taking batches that moved rows (statement and hand-over): how busy the drain is. */
  busyMs: number;
  /** Backfills' reads among the rows drained by this instance: a backfill under way. */
  reads: number;
}

export interface Backlog {
  backlog: number;
  lagMs: number;
}

/** The backlog is read every second; a reading not answered within 2 s counts as failed. */
const BACKLOG_EVERY_MS = 1000;
const BACKLOG_TIMEOUT_MS = 2000;
/** How long start-up waits for the first try for the drain lock (one query) once connected. */
const FIRST_LOCK_WAIT_MS = 5000;

/**
 * Drains the journal into the log. Owns one dedicated connection: LISTENs for wake-ups, holds the
 * drain lock, and takes the journal in commit order. Each batch gets its log positions in the
 * statement that moves the drain cursor past it (one transaction: nothing lost, nothing done
 * twice); after the commit, this instance's live tail gets the batch at once (a required call,
 * LiveTail.handOver), and every other instance's tail hears of it by the log's NOTIFY. A lost
 * connection or a failed batch rolls back and starts over from the persisted cursor.
 */
@Injectable()
export class LogDrainer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LogDrainer.name);
  private readonly pool: Sql;
  private readonly connection: DedicatedConnection;
  private readonly status = { draining: false, largestBatch: 0, drained: 0, rounds: 0, busyMs: 0, reads: 0 };
  private readonly backlogReading: BackgroundReading<Backlog>;
  private readonly appendedListeners = new Listeners<[notifications: readonly StoredNotification[], tookMs: number]>((error) => this.logger.warn(`a listener of appended batches failed: ${error instanceof Error ? error.message : String(error)}`));
  private lockTriedDone!: () => void;
  private readonly lockTried = new Promise<void>((resolve) => (this.lockTriedDone = resolve));

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly log: NotificationLog,
    private readonly tail: LiveTail,
    @InjectDataSource() dataSource: DataSource,
  ) {
    this.pool = poolSql(dataSource);
    this.backlogReading = new BackgroundReading(() => estimateBacklog(this.pool), { everyMs: BACKLOG_EVERY_MS, timeoutMs: BACKLOG_TIMEOUT_MS });
    this.connection = new DedicatedConnection({
      url: config.databaseUrl,
      applicationName: 'rowcast-listener',
      channels: [WAKE_UP_CHANNEL],
      maxBackoffMs: config.capture.maxBackoffMs,
      logger: this.logger,
    });
  }

  /**
   * Starts draining; the app is ready once the first connection attempt has ended, and if it
   * connected, once it has tried for the drain lock (each bounded): whether this instance drains
   * is said before the ready line, not after it.
   */
  async onApplicationBootstrap(): Promise<void> {
    await Promise.all([this.connection.start((client) => this.session(client)), this.backlogReading.start()]);
    if (this.connection.connected) await Promise.race([this.lockTried, new Promise((resolve) => setTimeout(resolve, FIRST_LOCK_WAIT_MS).unref())]);
  }

  /**
   * Finishes the batch in flight (its transaction commits), then closes. Runs before Nest closes
   * the HTTP server, so a slow HTTP client cannot hold the drain up.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.connection.stop(), this.backlogReading.stop()]);
  }

  getStatus(): DrainerStatus {
    return {
      connected: this.connection.connected,
      draining: this.status.draining && this.connection.connected,
      reconnects: this.connection.reconnects,
      largestBatch: this.status.largestBatch,
      drained: this.status.drained,
      rounds: this.status.rounds,
      busyMs: this.status.busyMs,
      reads: this.status.reads,
    };
  }

  /**
   * Calls `listener` with each batch this instance appends to the log, right after its commit
   * (metrics time it from commit: each notification's createdAt is its batch's time in the log),
   * and the milliseconds the batch took (its statement and the hand-over to the live tail).
   * Returns its removal. A listener that throws is not retried; draining goes on.
   */
  onAppended(listener: (notifications: readonly StoredNotification[], tookMs: number) => void): () => void {
    return this.appendedListeners.add(listener);
  }

  /**
   * Undrained journal rows and the age of the oldest: an estimate from three index probes
   * (sql/estimate-backlog.ts says what it gets wrong), read through the pool (the drainer's
   * connection may be asleep or mid-batch) every second in the background, so /health and /metrics
   * answer at once at any journal size. `current` is undefined once a reading failed or took over
   * 2 s; `latest` is the last one that answered, however old.
   */
  backlog(): { current: Backlog | undefined; latest: Backlog | undefined } {
    return { current: this.backlogReading.current, latest: this.backlogReading.latest };
  }

  private async session(client: pg.Client): Promise<void> {
    const { capture } = this.config;
    const sql = clientSql(client);
    // The statements of every round, prepared once per connection; not hasWork (./sql/has-work.ts).
    const prepared = clientSql(client, { prepared: true });
    this.status.draining = false;
    while (this.connection.isRunning && !(await tryDrainLock(sql, DRAIN_LOCK))) {
      this.lockTriedDone(); // another instance drains: this one stands by
      await this.connection.sleep(capture.takeoverIntervalMs);
      this.connection.throwIfBroken();
    }
    if (!this.connection.isRunning) return;
    this.status.draining = true;
    this.tail.setDrainingHere(true);
    this.logger.log('draining the journal');
    this.lockTriedDone();
    try {
      // Whether writers NOTIFY us (the flag in capture.wakeup): while we wait for a commit, yes, so
      // that its NOTIFY wakes us at once; while changes keep coming, no (no commit lock for them).
      let woken = false;
      const wakeOnCommit = async (on: boolean) => {
        if (woken !== on) await setWakeup(sql, on);
        woken = on;
      };
      await wakeOnCommit(false); // whatever a previous drainer left
      let busy = false;
      while (this.connection.isRunning) {
        this.connection.throwIfBroken();
        // After a batch there is likely more: drain at once. Otherwise one cheap look first.
        const started = performance.now();
        const drained: number = busy || (await hasWork(sql)) ? await this.drainOnce(prepared) : 0;
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
        if (await hasWork(sql)) continue;
        await this.connection.sleep(capture.flagRaceMs);
        if (await hasWork(sql)) continue;
        await this.connection.sleep(capture.safetyPollMs);
      }
      // A stopped drainer must not leave writers NOTIFYing (and taking the commit lock) for nobody.
      if (!this.connection.broken) await setWakeup(sql, false).catch(() => undefined);
    } finally {
      this.status.draining = false;
      this.tail.setDrainingHere(false);
    }
  }

  /** One batch in one statement (its own transaction); returns how many journal rows it moved. */
  private async drainOnce(sql: Sql): Promise<number> {
    const { batchSize, batchBytes } = this.config.capture;
    const started = performance.now();
    const { taken, notifications } = await this.log.append(sql, { rows: batchSize, bytes: batchBytes });
    this.status.largestBatch = Math.max(this.status.largestBatch, taken);
    this.status.drained += taken;
    if (notifications.length) this.tail.handOver(notifications);
    const tookMs = performance.now() - started;
    if (taken) this.status.busyMs += tookMs;
    for (const { payload } of notifications) if (payload.op === 'READ') this.status.reads++;
    if (notifications.length) this.appendedListeners.tell(notifications, tookMs);
    return taken;
  }
}
