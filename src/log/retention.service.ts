import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { inTransaction } from '../database/sql.js';
import { deleteChanges } from './sql/delete-changes.js';
import { expireNotifications } from './sql/expire-notifications.js';

const BATCH = 5_000;
const EVERY_MS = 60 * 60 * 1000;

/**
 * Deletes notifications older than RETENTION_DAYS, and with them the journal rows that were their
 * one stored copy. Small batches, each its own short transaction (the log's entries and their
 * journal rows go together), so no long lock is held and writers never wait.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RetentionService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.purge()
        .catch((error: unknown) => this.logger.warn(`retention failed: ${String(error)}`))
        .finally(() => (this.running = undefined));
    }, EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs one purge now; returns what it deleted. */
  async purge(): Promise<{ notifications: number; changes: number }> {
    const cutoff = `${this.config.retentionDays} days`;
    const total = { notifications: 0, changes: 0 };
    for (;;) {
      const done = await inTransaction(this.dataSource, async (sql) => {
        const expired = await expireNotifications(sql, cutoff, BATCH);
        const deleted = await deleteChanges(sql, expired.changeIds);
        total.notifications += expired.notifications;
        total.changes += deleted;
        return expired.notifications === 0;
      });
      if (done) break;
    }
    if (total.notifications || total.changes) {
      this.logger.log(`retention deleted ${total.notifications} notifications and ${total.changes} journal rows`);
    }
    return total;
  }
}
