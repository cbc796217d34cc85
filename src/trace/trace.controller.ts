import { BadRequestException, Controller, Get, Param } from '@nestjs/common';
import { ApiResponse, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { NOTIFICATION_ID } from '../events/event-catalog.js';
import { DeliveryTrace } from './delivery-trace.js';
import { DeliveryTraceDto } from './dto/delivery-trace.dto.js';

@ApiTags('notifications')
@Controller('notifications')
@RequireScope('admin')
export class TraceController {
  constructor(private readonly trace: DeliveryTrace) {}

  /** What each sink and consumer group did with one notification: delivered, pending, retried, dead-lettered or skipped, and why */
  @Get(':id/deliveries')
  @ApiResponse({ status: 200, type: DeliveryTraceDto })
  @ApiErrors(400, 404)
  deliveries(@Param('id') id: string): Promise<DeliveryTraceDto> {
    if (!NOTIFICATION_ID.test(id)) throw new BadRequestException('id must be a notification id (digits)');
    return this.trace.trace(id);
  }
}
