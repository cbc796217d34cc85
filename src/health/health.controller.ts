import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/require-scope.decorator.js';
import { CaptureWatch } from '../capture/capture-watch.js';
import { LogDrainer } from '../log/log-drainer.js';
import { DatabaseProbe } from './database-probe.js';
import { HealthDto } from './health.dto.js';

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly database: DatabaseProbe,
    private readonly listener: LogDrainer,
    private readonly capture: CaptureWatch,
  ) {}

  /**
   * Readiness: 200 when the database answers and the listener is connected, however large the
   * backlog being drained (degraded when capture has problems), 503 otherwise. Answers from
   * readings taken in the background: it never waits on the database.
   */
  @Get()
  @ApiResponse({ status: 503, description: 'Not ready', type: HealthDto })
  check(@Res({ passthrough: true }) response: Response): HealthDto {
    const { connected, draining } = this.listener.getStatus();
    const database = this.database.up ? 'up' : 'down';
    const backlog = this.listener.backlog().latest ?? { backlog: 0, lagMs: 0 };
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
