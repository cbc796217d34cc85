import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { inTransaction } from '../database/sql.js';
import { extendLookup } from './sql/extend-lookup.js';
import { SteppedJob } from './stepped-job.js';

/** Notifications one indexing transaction covers at most. */
export const INDEX_STEP = 10_000;

/**
 * Indexes the notifications that were in the log before a lookup began (the built-in keys after
 * the upgrade that added them, a column someone chose to look rows up by), in steps from the
 * newest down to the log's start, so that every lookup ends up answering from the index alone.
 * New batches are indexed as they are appended (the trigger on notification_batches); meanwhile,
 * reads scan below what a lookup covers. A run starts 5 s after start, then every 30 s; instances
 * take different lookups, or find nothing to do.
 */
@Injectable()
export class LogIndexer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly job: SteppedJob<number>;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.job = new SteppedJob<number>({
      name: 'indexing the log',
      logger: new Logger(LogIndexer.name),
      firstAfterMs: 5_000,
      everyMs: 30_000,
      step: () => inTransaction(dataSource, (sql) => extendLookup(sql, INDEX_STEP)),
      add: (total, step) => (total ?? 0) + step,
      describe: (total) => `indexed ${total} notifications already in the log`,
    });
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.job.stop();
  }

  /** Indexes now until every lookup covers the whole log; returns how many ids it covered. */
  async run(): Promise<number> {
    return (await this.job.run()) ?? 0;
  }
}
