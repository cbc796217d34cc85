import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { CaptureModule } from '../capture/capture.module.js';
import { LogModule } from '../log/log.module.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { SocketAccess } from './socket-access.service.js';
import { SubscriptionsService } from './subscriptions.service.js';

@Module({
  imports: [AuthModule, CaptureModule, LogModule],
  providers: [SubscriptionsService, SocketAccess, RealtimeGateway],
  exports: [SubscriptionsService],
})
export class RealtimeModule {}
