import { BadRequestException, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { ApiKey } from '../auth/api-key.js';
import { CallerKey, RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { ListNotificationsQueryDto, NotificationDto, NotificationPageDto } from './dto/notification.dto.js';
import { NotificationsService } from './notifications.service.js';
import { NOTIFICATION_ID } from '../events/event-catalog.js';

@ApiTags('notifications')
@Controller('notifications')
@RequireScope('notifications:read')
export class NotificationsController {
  constructor(private readonly service: NotificationsService) {}

  /** Query the notification log (who changed what, when), ascending id, one page at a time */
  @Get()
  @ApiErrors(400)
  list(@Query() query: ListNotificationsQueryDto, @CallerKey() key?: ApiKey): Promise<NotificationPageDto> {
    return this.service.list(query, key);
  }

  /** Get one notification */
  @Get(':id')
  @ApiErrors(400, 404)
  get(@Param('id') id: string, @CallerKey() key?: ApiKey): Promise<NotificationDto> {
    if (!NOTIFICATION_ID.test(id)) throw new BadRequestException('id must be a notification id (digits)');
    return this.service.get(id, key);
  }
}
