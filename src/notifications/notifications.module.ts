import { Module } from '@nestjs/common';
import { TableCatalogModule } from '../capture/table-catalog.module.js';
import { NotificationLog } from './notification-log.js';
import { NotificationsController } from './notifications.controller.js';
import { NotificationsService } from './notifications.service.js';

@Module({
  imports: [TableCatalogModule],
  controllers: [NotificationsController],
  providers: [NotificationLog, NotificationsService],
  exports: [NotificationLog],
})
export class NotificationsModule {}
