import { Module } from '@nestjs/common';
import { CaptureModule } from '../capture/capture.module.js';
import { LogModule } from '../log/log.module.js';
import { NotificationsController } from './notifications.controller.js';
import { NotificationsService } from './notifications.service.js';

@Module({
  imports: [CaptureModule, LogModule],
  controllers: [NotificationsController],
  providers: [NotificationsService],
})
export class NotificationsModule {}
