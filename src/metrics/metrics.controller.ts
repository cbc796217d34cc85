import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { MetricsService } from './metrics.service.js';

@ApiTags('operations')
@Controller('metrics')
@RequireScope('admin')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  /** Prometheus metrics of this instance (text exposition format) */
  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text format', schema: { type: 'string' } })
  async scrape(@Res() response: Response): Promise<void> {
    // Sent as bytes: Express 5.2 (NestJS 11's) re-formats the Content-Type of a string body with
    // its charset first ("text/plain; charset=utf-8; version=0.0.4"); a Buffer keeps the header.
    response.send(Buffer.from(await this.metrics.registry.metrics()));
  }
}
