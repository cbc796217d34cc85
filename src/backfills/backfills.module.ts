import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module.js';
import { BackfillRepository } from './backfill.repository.js';
import { BackfillRunner } from './backfill-runner.js';
import { BackfillsController } from './backfills.controller.js';
import { BackfillsService } from './backfills.service.js';

/** Backfills: the rows a table already holds, read in chunks into the journal (REST, runner; capture.backfills). */
@Module({
  imports: [LogModule],
  controllers: [BackfillsController],
  providers: [BackfillRepository, BackfillRunner, BackfillsService],
  exports: [BackfillsService],
})
export class BackfillsModule {}
