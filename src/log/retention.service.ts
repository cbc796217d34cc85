import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { inTransaction } from '../database/sql.js';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { expireBatches } from './sql/expire-batches.js';
import { expireLegacy } from './sql/expire-legacy.js';
import { tryRetentionLock } from './sql/try-retention-lock.js';

/** Notifications (so journal rows) one purge transaction deletes at most, whatever the batches' sizes. */
export const RETENTION_STEP = 10_000;
/** The first purge runs this soon after start (not with start-up's work), then every hour. */
const FIRST_AFTER_MS = 5_000;
const EVERY_MS = 60 * 60 * 1000;
/** Any constant shared by every instance: the holder of this transaction lock runs the purge step. */
const RETENTION_LOCK = 7_160_903;

/**
 * Deletes notifications older than RETENTION_DAYS, and with them the journal rows that were their
 * one stored copy, in steps: each its own transaction of at most RETENTION_STEP notifications (the
 * log's entries and their journal rows go together), followed by a pause as long as the step took,
 * so writers never share the journal with a long delete and memory stays flat. One instance purges
 * at a time (a transaction-level advisory lock); the others find it held and leave it.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<unknown> | undefined;
  private stopping = false;
  private readonly pause = new WakeableSleep();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  onApplicationBootstrap(): void {
    const run = () => {
      this.running ??= this.purge()
        .catch((error: unknown) => this.logger.warn(`retention failed: ${String(error)}`))
        .finally(() => (this.running = undefined));
    };
    this.timers = [setTimeout(run, FIRST_AFTER_MS), setInterval(run, EVERY_MS)];
    for (const timer of this.timers) timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.pause.wake();
    await this.running;
  }

  /** Runs one purge now, step by step until nothing is due; returns what it deleted. */
  async purge(): Promise<{ notifications: number; changes: number }> {
    const cutoff = `${this.config.retentionDays} days`;
    const total = { notifications: 0, changes: 0 };
    while (!this.stopping) {
      const started = performance.now();
      const step = await inTransaction(this.dataSource, async (sql) => {
        if (!(await tryRetentionLock(sql, RETENTION_LOCK))) return undefined;
        const legacy = await expireLegacy(sql, cutoff, RETENTION_STEP);
        const batches = legacy < RETENTION_STEP ? await expireBatches(sql, cutoff, RETENTION_STEP - legacy) : { notifications: 0, changes: 0 };
        return { notifications: legacy + batches.notifications, changes: batches.changes };
      });
      if (!step?.notifications) break;
      total.notifications += step.notifications;
      total.changes += step.changes;
      // Writers get at least as long as the step held its locks and took the disk.
      await this.pause.sleep(performance.now() - started);
    }
    if (total.notifications || total.changes) {
      this.logger.log(`retention deleted ${total.notifications} notifications and ${total.changes} journal rows`);
    }
    return total;
  }
}
