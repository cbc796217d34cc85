import { Module } from '@nestjs/common';
import { TableCatalogModule } from '../capture/table-catalog.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { SinkEngine } from './sink-engine.service.js';
import { SinkRepository } from './sink.repository.js';
import { SinksController } from './sinks.controller.js';
import { SinksService } from './sinks.service.js';
import { WebhooksController } from './webhooks.controller.js';

@Module({
  imports: [NotificationsModule, TableCatalogModule],
  controllers: [WebhooksController, SinksController],
  providers: [SinkRepository, SinkEngine, SinksService],
  exports: [SinkEngine],
})
export class SinksModule {}
