import { Module } from '@nestjs/common';
import { CaptureModule } from '../capture/capture.module.js';
import { LogModule } from '../log/log.module.js';
import { SinkEngine } from './sink-engine.service.js';
import { SinkRepository } from './sink.repository.js';
import { SinksController } from './sinks.controller.js';
import { SinksService } from './sinks.service.js';
import { WebhooksController } from './webhooks.controller.js';

@Module({
  imports: [CaptureModule, LogModule],
  controllers: [WebhooksController, SinksController],
  providers: [SinkRepository, SinkEngine, SinksService],
  exports: [SinkEngine],
})
export class SinksModule {}
