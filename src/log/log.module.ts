import { Module } from '@nestjs/common';
import { LiveTail } from './live-tail.js';
import { LogDrainer } from './log-drainer.js';
import { NotificationLog } from './notification-log.js';
import { RetentionService } from './retention.service.js';
import { LogIndexer } from './log-indexer.js';

/**
 * One aggregate: the journal, the drain cursor, the log's batches (and legacy rows), its index
 * (LogIndexer covers what was there before a lookup began) and retention.
 * Every statement on their tables is in ./sql/. Other modules read the log (NotificationLog),
 * follow it live (LiveTail.listen) or watch the drainer (LogDrainer: /health, /metrics).
 */
@Module({
  providers: [NotificationLog, LiveTail, LogDrainer, RetentionService, LogIndexer],
  exports: [NotificationLog, LiveTail, LogDrainer, LogIndexer],
})
export class LogModule {}
