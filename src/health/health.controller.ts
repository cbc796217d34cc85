import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { Response } from 'express';
import { Public } from '../auth/require-scope.decorator.js';
import { CaptureWatch } from '../capture/capture-watch.js';
import { LogDrainer } from '../log/log-drainer.js';
import { HealthDto } from './health.dto.js';

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly listener: LogDrainer,
    private readonly capture: CaptureWatch,
  ) {}

  /** Readiness: 200 when the database answers and the listener is connected (degraded when capture has problems), 503 otherwise */
  @Get()
  @ApiResponse({ status: 503, description: 'Not ready', type: HealthDto })
  async check(@Res({ passthrough: true }) response: Response): Promise<HealthDto> {
    const { connected, draining } = this.listener.getStatus();
    let database: HealthDto['database'] = 'up';
    let backlog = { backlog: 0, lagMs: 0 };
    try {
      await this.health.check([() => this.database.pingCheck('database', { timeout: 1500 })]);
      // Shared with /metrics (read at most once a second); undefined: the database did not answer.
      const recent = await this.listener.backlog();
      if (!recent) throw new Error('no backlog');
      backlog = recent;
    } catch {
      database = 'down';
    }
    const ok = database === 'up' && connected;
    if (!ok) response.status(HttpStatus.SERVICE_UNAVAILABLE);
    const problems = [...this.capture.problems];
    return {
      status: !ok ? 'error' : problems.length ? 'degraded' : 'ok',
      database,
      listener: { connected, draining, ...backlog },
      capture: { problems },
    };
  }
}
