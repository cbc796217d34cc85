import { Module } from '@nestjs/common';
import { PgListener } from './pg-listener.service.js';

@Module({
  providers: [PgListener],
  exports: [PgListener],
})
export class CaptureModule {}
