import { Module } from '@nestjs/common';
import { NotificationLog } from './notification-log.js';
import { NotificationsController } from './notifications.controller.js';
import { NotificationsService } from './notifications.service.js';

@Module({
  controllers: [NotificationsController],
  providers: [NotificationLog, NotificationsService],
  exports: [NotificationLog],
})
export class NotificationsModule {}
