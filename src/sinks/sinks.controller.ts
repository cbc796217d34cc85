import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { UuidParam } from '../common/http/uuid-param.js';
import { CreateSinkDto, RedeliverDto, RedeliveryDto, SinkDto, UpdateSinkDto } from './dto/sink.dto.js';
import { SinksService } from './sinks.service.js';

/** Broker sinks (RabbitMQ, NATS JetStream); the list shows webhooks too. */
@ApiTags('sinks')
@Controller('sinks')
@RequireScope('sinks:manage')
export class SinksController {
  constructor(private readonly service: SinksService) {}

  /** Create a RabbitMQ or NATS JetStream sink; credentials are never returned */
  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiErrors(400, 409, 413)
  create(@Body() dto: CreateSinkDto): Promise<SinkDto> {
    return this.service.createBrokerSink(dto);
  }

  /** List every sink, webhooks included, with state and position */
  @Get()
  list(): Promise<SinkDto[]> {
    return this.service.list('any');
  }

  /** Get one broker sink */
  @Get(':id')
  @ApiErrors(400, 404)
  get(@UuidParam('id') id: string): Promise<SinkDto> {
    return this.service.get(id, 'broker');
  }

  /** Change a broker sink's filter or name, or pause it (`paused: true`) */
  @Patch(':id')
  @ApiErrors(400, 404, 409, 413)
  update(@UuidParam('id') id: string, @Body() dto: UpdateSinkDto): Promise<SinkDto> {
    return this.service.update(id, 'broker', dto);
  }

  /** Delete a broker sink */
  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 404)
  remove(@UuidParam('id') id: string): Promise<void> {
    return this.service.remove(id, 'broker');
  }

  /** Resume delivery after a pause */
  @Post(':id/resume')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404)
  resume(@UuidParam('id') id: string): Promise<SinkDto> {
    return this.service.resume(id, 'broker');
  }

  /** Deliver again: one notification, or everything after a cursor */
  @Post(':id/redeliver')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiErrors(400, 404, 409, 413)
  redeliver(@UuidParam('id') id: string, @Body() dto: RedeliverDto): Promise<RedeliveryDto> {
    return this.service.redeliver(id, 'broker', dto);
  }
}
