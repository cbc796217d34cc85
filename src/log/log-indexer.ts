import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { inTransaction } from '../database/sql.js';
import { LogDrainer } from './log-drainer.js';
import { extendLookup } from './sql/extend-lookup.js';
import { SteppedJob } from './stepped-job.js';

/** Notifications one indexing transaction covers at most. */
export const INDEX_STEP = 10_000;
/**
 * Share of the time the drainer spent taking batches above which indexing waits. The drain carries
 * every change to the clients, and behind a backfill's reads, live changes wait for it; the index
 * only spares filtered reads a scan of what it has not reached. Indexing a notification cost about
 * three times what draining it did (the backfill benchmark: 160 against 50 µs of a busy core's wall
 * time), so a backfill drained while the index kept pace went at a fraction of its rate.
 */
export const BUSY_DRAIN_SHARE = 0.25;
/** The longest indexing waits for a drain that stays busy: then it takes one step, and waits again. */
export const MAX_DEFER_MS = 30_000;

/**
 * When indexing yields to the drain: a run starts while the drainer spent at most BUSY_DRAIN_SHARE of
 * the time since the last look taking batches and drained no backfill's reads, or once runs have
 * waited MAX_DEFER_MS; and it takes another step only while that holds.
 */
export class IndexPacing {
  private at: number;
  private busyMs: number;
  private reads: number;
  /** Since when runs have waited for a busy drain. */
  private deferredSince: number | undefined;

  constructor(
    private readonly drainer: { getStatus(): { busyMs: number; reads: number } },
    now = performance.now(),
  ) {
    this.at = now;
    ({ busyMs: this.busyMs, reads: this.reads } = drainer.getStatus());
  }

  /** Whether a run may start now. */
  mayStart(now = performance.now()): boolean {
    if (!this.drainBusy(now)) {
      this.deferredSince = undefined;
      return true;
    }
    this.deferredSince ??= now;
    if (now - this.deferredSince < MAX_DEFER_MS) return false;
    this.deferredSince = now;
    return true;
  }

  /** Whether a run takes another step. */
  goOn(now = performance.now()): boolean {
    return !this.drainBusy(now);
  }

  /**
   * Whether, since the last look, the drainer spent more than BUSY_DRAIN_SHARE of the time taking
   * batches, or drained a backfill's reads: a backfill goes at the drain's pace (and its chunks
   * follow how long their reads take to drain), so indexing them meanwhile slows it down twice.
   */
  private drainBusy(now: number): boolean {
    const { busyMs, reads } = this.drainer.getStatus();
    const share = (busyMs - this.busyMs) / Math.max(now - this.at, 1);
    const backfilling = reads > this.reads;
    this.at = now;
    this.busyMs = busyMs;
    this.reads = reads;
    return share > BUSY_DRAIN_SHARE || backfilling;
  }
}

/**
 * Writes the log's index (notification_index, see migration LogLookups), off the drainer's path:
 * starts each lookup at the log's end, follows the log forward as batches are appended, and indexes
 * what was there before (the log before the upgrade that added the built-in keys, before a column
 * was chosen) back to the log's start, in steps of at most INDEX_STEP notifications, each its own
 * transaction. Reads scan what the index does not cover yet, so it may lag without an answer
 * missing anything. A run starts every second on the instance that drains (the others make no
 * statement for it); a step holds its lookup's row, so runs never index the same range twice.
 * While the drain is busy (BUSY_DRAIN_SHARE) or drains a backfill's reads, the runs wait, a step
 * every MAX_DEFER_MS at most: the index falls behind under a backfill or a burst, and catches up
 * once the drain is quiet.
 */
@Injectable()
export class LogIndexer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly job: SteppedJob<number>;

  constructor(@InjectDataSource() dataSource: DataSource, @Optional() drainer?: LogDrainer) {
    const pacing = drainer && new IndexPacing(drainer);
    this.job = new SteppedJob<number>({
      name: 'indexing the log',
      logger: new Logger(LogIndexer.name),
      firstAfterMs: 1_000,
      everyMs: 1_000,
      // The instance that appends the batches indexes them: the others make no statement for it.
      due: () => (drainer?.getStatus().draining ?? true) && (pacing?.mayStart() ?? true),
      goOn: () => pacing?.goOn() ?? true,
      step: () => inTransaction(dataSource, (sql) => extendLookup(sql, INDEX_STEP)),
      add: (total, step) => (total ?? 0) + step,
      describe: (total) => (total >= INDEX_STEP ? `indexed ${total} notifications` : ''),
    });
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.job.stop();
  }

  /** Indexes now until every lookup covers the whole log, as it ends now (whatever the drain does); returns how many ids it covered. */
  async run(): Promise<number> {
    return (await this.job.run()) ?? 0;
  }
}
