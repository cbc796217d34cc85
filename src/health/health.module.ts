import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LogModule } from '../log/log.module.js';
import { HealthController } from './health.controller.js';

@Module({
  imports: [TerminusModule.forRoot({ errorLogStyle: 'pretty', logger: false }), LogModule],
  controllers: [HealthController],
})
export class HealthModule {}
