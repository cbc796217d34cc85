import { Module } from '@nestjs/common';
import { NotificationHandler } from './notification.handler.js';
import { NotificationsController } from './notifications.controller.js';
import { NotificationsService } from './notifications.service.js';
import { RetentionService } from './retention.service.js';

@Module({
  controllers: [NotificationsController],
  providers: [NotificationHandler, NotificationsService, RetentionService],
  exports: [NotificationsService, RetentionService],
})
export class NotificationsModule {}
