import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { Response } from 'express';
import { HealthDto } from './health.dto.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
  ) {}

  /** Readiness: 200 when the database answers, 503 otherwise */
  @Get()
  @ApiResponse({ status: 503, description: 'Not ready', type: HealthDto })
  async check(@Res({ passthrough: true }) response: Response): Promise<HealthDto> {
    try {
      await this.health.check([() => this.database.pingCheck('database').withTimeout(1500)]);
      return { status: 'ok', database: 'up' };
    } catch {
      response.status(HttpStatus.SERVICE_UNAVAILABLE);
      return { status: 'error', database: 'down' };
    }
  }
}
