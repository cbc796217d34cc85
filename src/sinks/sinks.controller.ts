import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { UuidParam } from '../common/http/uuid-param.js';
import {
  ApiSinkResponse,
  CreateSinkDto,
  DeadLetterDto,
  DeliveryAttemptDto,
  ListQueryDto,
  RedeliverDto,
  RedeliveryDto,
  SinkView,
  UpdateSinkDto,
} from './dto/sink.dto.js';
import { SinksService } from './sinks.service.js';

/** Every sink, of every kind (webhooks, RabbitMQ, NATS JetStream); /webhooks is an alias for webhooks. */
@ApiTags('sinks')
@Controller('sinks')
@RequireScope('sinks:manage')
export class SinksController {
  constructor(private readonly service: SinksService) {}

  /** Create a sink of any kind; credentials are never returned (a webhook's secret is shown once, here) */
  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiSinkResponse(HttpStatus.CREATED, { created: true })
  @ApiErrors(400, 409, 413, 422)
  create(@Body() dto: CreateSinkDto): Promise<SinkView> {
    return this.service.create(dto);
  }

  /** List every sink with state and position */
  @Get()
  @ApiSinkResponse(HttpStatus.OK, { list: true })
  list(): Promise<SinkView[]> {
    return this.service.list();
  }

  /** Get one sink, of any kind */
  @Get(':id')
  @ApiSinkResponse(HttpStatus.OK)
  @ApiErrors(400, 404)
  get(@UuidParam('id') id: string): Promise<SinkView> {
    return this.service.get(id);
  }

  /** Change a sink's settings (under its kind's name), filter or name, or pause it (`paused: true`) */
  @Patch(':id')
  @ApiSinkResponse(HttpStatus.OK)
  @ApiErrors(400, 404, 409, 413, 422)
  update(@UuidParam('id') id: string, @Body() dto: UpdateSinkDto): Promise<SinkView> {
    return this.service.update(id, undefined, dto);
  }

  /** Delete a sink with its delivery history and dead letters */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 404)
  remove(@UuidParam('id') id: string): Promise<void> {
    return this.service.remove(id);
  }

  /** Resume delivery after a pause or a failure */
  @Post(':id/resume')
  @HttpCode(HttpStatus.OK)
  @ApiSinkResponse(HttpStatus.OK)
  @ApiErrors(400, 404)
  resume(@UuidParam('id') id: string): Promise<SinkView> {
    return this.service.resume(id);
  }

  /** Deliver again: one notification, every dead letter, or everything after a cursor */
  @Post(':id/redeliver')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiErrors(400, 404, 409, 413, 422)
  redeliver(@UuidParam('id') id: string, @Body() dto: RedeliverDto): Promise<RedeliveryDto> {
    return this.service.redeliver(id, undefined, dto);
  }

  /** The latest delivery attempts, newest first (webhooks record them; the last 1,000 are kept) */
  @Get(':id/deliveries')
  @ApiErrors(400, 404)
  deliveries(@UuidParam('id') id: string, @Query() query: ListQueryDto): Promise<DeliveryAttemptDto[]> {
    return this.service.deliveries(id, undefined, query.limit ?? 100);
  }

  /** Notifications given up on after the last retry, oldest first */
  @Get(':id/dead-letters')
  @ApiErrors(400, 404)
  deadLetters(@UuidParam('id') id: string, @Query() query: ListQueryDto): Promise<DeadLetterDto[]> {
    return this.service.deadLetters(id, undefined, query.limit ?? 100);
  }
}
