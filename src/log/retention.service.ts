import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { inTransaction } from '../database/sql.js';
import { expireBatches } from './sql/expire-batches.js';
import { expireLegacy } from './sql/expire-legacy.js';
import { tryRetentionLock } from './sql/try-retention-lock.js';
import { SteppedJob } from './stepped-job.js';

/** Notifications (so journal rows) one purge transaction deletes at most, whatever the batches' sizes. */
export const RETENTION_STEP = 10_000;
/** Any constant shared by every instance: the holder of this transaction lock runs the purge step. */
const RETENTION_LOCK = 7_160_903;

type Deleted = { notifications: number; changes: number };

/**
 * Deletes notifications older than RETENTION_DAYS, and with them the journal rows that were their
 * one stored copy, in steps (SteppedJob): each its own transaction of at most RETENTION_STEP
 * notifications (the log's entries, their index entries and their journal rows go together). The
 * first purge runs 5 s after start, then every hour. One instance purges at a time (a
 * transaction-level advisory lock); the others find it held and leave it.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly job: SteppedJob<Deleted>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @InjectDataSource() dataSource: DataSource,
  ) {
    const cutoff = `${config.retentionDays} days`;
    this.job = new SteppedJob<Deleted>({
      name: 'retention',
      logger: new Logger(RetentionService.name),
      firstAfterMs: 5_000,
      everyMs: 60 * 60 * 1000,
      step: async () => {
        const step = await inTransaction(dataSource, async (sql) => {
          if (!(await tryRetentionLock(sql, RETENTION_LOCK))) return undefined;
          const legacy = await expireLegacy(sql, cutoff, RETENTION_STEP);
          const batches = legacy < RETENTION_STEP ? await expireBatches(sql, cutoff, RETENTION_STEP - legacy) : { notifications: 0, changes: 0 };
          return { notifications: legacy + batches.notifications, changes: batches.changes };
        });
        return step?.notifications ? step : undefined;
      },
      add: (total, step) => ({ notifications: (total?.notifications ?? 0) + step.notifications, changes: (total?.changes ?? 0) + step.changes }),
      describe: (total) => `retention deleted ${total.notifications} notifications and ${total.changes} journal rows`,
    });
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.job.stop();
  }

  /** Runs one purge now, step by step until nothing is due; returns what it deleted. */
  async purge(): Promise<Deleted> {
    return (await this.job.run()) ?? { notifications: 0, changes: 0 };
  }
}
