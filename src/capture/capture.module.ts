import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { PgListener } from './pg-listener.service.js';
import { RetentionService } from './retention.service.js';

@Module({
  imports: [NotificationsModule],
  providers: [PgListener, RetentionService],
  exports: [PgListener, RetentionService],
})
export class CaptureModule {}
