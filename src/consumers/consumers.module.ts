import { Module } from '@nestjs/common';
import { CaptureModule } from '../capture/capture.module.js';
import { LogModule } from '../log/log.module.js';
import { ConsumerRepository } from './consumer.repository.js';
import { ConsumersController, ConsumingController } from './consumers.controller.js';
import { ConsumersService } from './consumers.service.js';

/** Pull consumer groups over HTTP (issue 20). */
@Module({
  imports: [CaptureModule, LogModule],
  controllers: [ConsumersController, ConsumingController],
  providers: [ConsumerRepository, ConsumersService],
  exports: [ConsumersService],
})
export class ConsumersModule {}
