import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Patch, Post, Query } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { UuidParam } from '../common/http/uuid-param.js';
import {
  asSinkChanges,
  CreatedWebhookDto,
  CreateWebhookDto,
  DeadLetterDto,
  DeliveryAttemptDto,
  ListQueryDto,
  RedeliverDto,
  RedeliveryDto,
  RotatedSecretDto,
  RotateSecretDto,
  UpdateWebhookDto,
  WebhookSinkDto,
} from './dto/sink.dto.js';
import { SinksService } from './sinks.service.js';

/** Webhooks, as a resource of their own: an alias of /sinks for sinks of kind webhook, with their settings at the top of the body. */
@ApiTags('webhooks')
@Controller('webhooks')
@RequireScope('webhooks:manage')
export class WebhooksController {
  constructor(private readonly service: SinksService) {}

  /** Create a webhook; its signing secret is in this response only */
  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiErrors(400, 409, 413)
  create(@Body() dto: CreateWebhookDto): Promise<CreatedWebhookDto> {
    return this.service.createWebhook(dto);
  }

  /** List webhooks */
  @Get()
  list(): Promise<WebhookSinkDto[]> {
    return this.service.list('webhook') as Promise<WebhookSinkDto[]>;
  }

  /** Get one webhook with its state and position */
  @Get(':id')
  @ApiErrors(400, 404)
  get(@UuidParam('id') id: string): Promise<WebhookSinkDto> {
    return this.service.get(id, 'webhook');
  }

  /** Change a webhook's url, filter or name, or pause it (`paused: true`) */
  @Patch(':id')
  @ApiErrors(400, 404, 409, 413)
  update(@UuidParam('id') id: string, @Body() dto: UpdateWebhookDto): Promise<WebhookSinkDto> {
    return this.service.update(id, 'webhook', asSinkChanges(dto));
  }

  /** Delete a webhook with its delivery history and dead letters */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 404)
  remove(@UuidParam('id') id: string): Promise<void> {
    return this.service.remove(id, 'webhook');
  }

  /** Resume delivery after a pause or a failure */
  @Post(':id/resume')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404)
  resume(@UuidParam('id') id: string): Promise<WebhookSinkDto> {
    return this.service.resume(id, 'webhook');
  }

  /** Replace the signing secret; the old one is still signed with during the overlap */
  @Post(':id/rotate-secret')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 413)
  // Every field has a default: a bare POST rotates with the default overlap.
  @ApiBody({ type: RotateSecretDto, required: false })
  rotateSecret(@UuidParam('id') id: string, @Body() dto: RotateSecretDto): Promise<RotatedSecretDto> {
    return this.service.rotateSecret(id, dto.overlapSeconds);
  }

  /** Deliver again: one notification, every dead letter, or everything after a cursor */
  @Post(':id/redeliver')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiErrors(400, 404, 409, 413, 422)
  redeliver(@UuidParam('id') id: string, @Body() dto: RedeliverDto): Promise<RedeliveryDto> {
    return this.service.redeliver(id, 'webhook', dto);
  }

  /** The latest delivery attempts, newest first (the last 1,000 are kept) */
  @Get(':id/deliveries')
  @ApiErrors(400, 404)
  deliveries(@UuidParam('id') id: string, @Query() query: ListQueryDto): Promise<DeliveryAttemptDto[]> {
    return this.service.deliveries(id, 'webhook', query.limit ?? 100);
  }

  /** Notifications given up on after the last retry, oldest first */
  @Get(':id/dead-letters')
  @ApiErrors(400, 404)
  deadLetters(@UuidParam('id') id: string, @Query() query: ListQueryDto): Promise<DeadLetterDto[]> {
    return this.service.deadLetters(id, 'webhook', query.limit ?? 100);
  }
}
