import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module.js';
import { DeliveryTrace } from './delivery-trace.js';
import { TraceController } from './trace.controller.js';

/** A trace per notification: what every destination did with it (GET /notifications/:id/deliveries). */
@Module({
  imports: [LogModule],
  controllers: [TraceController],
  providers: [DeliveryTrace],
})
export class TraceModule {}
