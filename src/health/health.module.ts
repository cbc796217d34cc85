import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CaptureModule } from '../capture/capture.module.js';
import { LogModule } from '../log/log.module.js';
import { HealthController } from './health.controller.js';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'pretty', logger: false }), LogModule, CaptureModule],
  controllers: [HealthController],
})
export class HealthModule {}
