import { Module } from '@nestjs/common';
import { CaptureModule } from '../capture/capture.module.js';
import { LogModule } from '../log/log.module.js';
import { DatabaseProbe } from './database-probe.js';
import { HealthController } from './health.controller.js';

@Module({
  imports: [LogModule, CaptureModule],
  controllers: [HealthController],
  providers: [DatabaseProbe],
})
export class HealthModule {}
