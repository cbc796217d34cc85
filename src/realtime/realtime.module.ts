import { Module } from '@nestjs/common';
import { NotificationFeed } from './notification-feed.service.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { SubscriptionsService } from './subscriptions.service.js';

@Module({
  providers: [NotificationFeed, SubscriptionsService, RealtimeGateway],
  exports: [SubscriptionsService],
})
export class RealtimeModule {}
