import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';

const BATCH = 5_000;
const EVERY_MS = 60 * 60 * 1000;

/**
 * Deletes notifications, and journal rows already drained, older than RETENTION_DAYS. Small
 * batches, each its own short transaction, so no long lock is held and writers never wait.
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
    const notifications = await this.inBatches(
      `WITH deleted AS (
         DELETE FROM notifications WHERE id IN (
           SELECT id FROM notifications WHERE created_at < now() - $1::interval ORDER BY id LIMIT ${BATCH})
         RETURNING id),
       watermark AS (
         UPDATE notification_retention SET purged_through = greatest(purged_through, (SELECT max(id) FROM deleted))
         WHERE id = 1 AND EXISTS (SELECT 1 FROM deleted))
       SELECT count(*)::int AS deleted FROM deleted`,
      [cutoff],
    );
    // A journal row is drained when its transaction has finished and is no longer pending.
    const changes = await this.inBatches(
      `WITH deleted AS (
         DELETE FROM capture.changes WHERE id IN (
           SELECT c.id FROM capture.changes c
           WHERE c.changed_at < now() - $1::interval
             AND c.tx < pg_snapshot_xmin(pg_current_snapshot())
             AND NOT EXISTS (SELECT 1 FROM capture.pending p WHERE p.tx = c.tx)
           ORDER BY c.id LIMIT ${BATCH})
         RETURNING id)
       SELECT count(*)::int AS deleted FROM deleted`,
      [cutoff],
    );
    if (notifications || changes) {
      this.logger.log(`retention deleted ${notifications} notifications and ${changes} journal rows`);
    }
    return { notifications, changes };
  }

  private async inBatches(sql: string, values: unknown[]): Promise<number> {
    let total = 0;
    for (;;) {
      const [{ deleted }] = (await this.dataSource.query(sql, values)) as [{ deleted: number }];
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }
}
