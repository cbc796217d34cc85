import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { CaptureModule } from '../capture/capture.module.js';
import { TableCatalogModule } from '../capture/table-catalog.module.js';
import { NotificationsModule } from '../notifications/notifications.module.js';
import { NotificationFeed } from './notification-feed.service.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { SocketAccess } from './socket-access.service.js';
import { SubscriptionsService } from './subscriptions.service.js';

@Module({
  imports: [AuthModule, CaptureModule, NotificationsModule, TableCatalogModule],
  providers: [NotificationFeed, SubscriptionsService, SocketAccess, RealtimeGateway],
  exports: [SubscriptionsService, NotificationFeed],
})
export class RealtimeModule {}
