import { Module } from '@nestjs/common';
import { BackfillsModule } from '../backfills/backfills.module.js';
import { CaptureModule } from '../capture/capture.module.js';
import { ConsumersModule } from '../consumers/consumers.module.js';
import { LogModule } from '../log/log.module.js';
import { RealtimeModule } from '../realtime/realtime.module.js';
import { SinksModule } from '../sinks/sinks.module.js';
import { MetricsController } from './metrics.controller.js';
import { DestinationLag } from './destination-lag.js';
import { MetricsService } from './metrics.service.js';

@Module({
  imports: [LogModule, CaptureModule, RealtimeModule, SinksModule, ConsumersModule, BackfillsModule],
  controllers: [MetricsController],
  providers: [MetricsService, DestinationLag],
  exports: [MetricsService],
})
export class MetricsModule {}
