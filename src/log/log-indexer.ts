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
 * Writes the log's index (notification_index, see migration LogLookups), off the drainer's path:
 * starts each lookup at the log's end, follows the log forward as batches are appended, and indexes
 * what was there before (the log before the upgrade that added the built-in keys, before a column
 * was chosen) back to the log's start, in steps of at most INDEX_STEP notifications, each its own
 * transaction. Reads scan what the index does not cover yet, so it may lag without an answer
 * missing anything. A run starts every second on the instance that drains (the others make no
 * statement for it); a step holds its lookup's row, so runs never index the same range twice.
 */
@Injectable()
export class LogIndexer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly job: SteppedJob<number>;

  constructor(@InjectDataSource() dataSource: DataSource, @Optional() drainer?: LogDrainer) {
    this.job = new SteppedJob<number>({
      name: 'indexing the log',
      logger: new Logger(LogIndexer.name),
      firstAfterMs: 1_000,
      everyMs: 1_000,
      // The instance that appends the batches indexes them: the others make no statement for it.
      due: () => drainer?.getStatus().draining ?? true,
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

  /** Indexes now until every lookup covers the whole log, as it ends now; returns how many ids it covered. */
  async run(): Promise<number> {
    return (await this.job.run()) ?? 0;
  }
}
