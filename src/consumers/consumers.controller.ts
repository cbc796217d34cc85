import { BadRequestException, Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Patch, Post, Query, type PipeTransform } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { CONSUMER_NAME } from './consumer-group.js';
import { ConsumersService } from './consumers.service.js';
import {
  ConsumerDeadLetterDto,
  ConsumerGroupDto,
  CountDto,
  CreateConsumerDto,
  DeadLetterListQueryDto,
  LeaseIdsDto,
  NackDto,
  ReceiveDto,
  ReceivedDto,
  RedeliverDeadLettersDto,
  SeekDto,
  SettledDto,
  TermDto,
  UpdateConsumerDto,
} from './dto/consumer.dto.js';

class NamePipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (typeof value === 'string' && CONSUMER_NAME.test(value)) return value;
    throw new BadRequestException('name must be a consumer group name: 1–64 letters, digits, dots, dashes or underscores');
  }
}
const NameParam = () => Param('name', new NamePipe());

/** Pull consumer groups, managed (`consumers:manage`); ConsumingController is for their workers. */
@ApiTags('consumers')
@Controller('consumers')
@RequireScope('consumers:manage')
export class ConsumersController {
  constructor(private readonly service: ConsumersService) {}

  /** Create a consumer group */
  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiErrors(400, 409, 413)
  create(@Body() dto: CreateConsumerDto): Promise<ConsumerGroupDto> {
    return this.service.create(dto);
  }

  /** Every consumer group with its position, lag and counts */
  @Get()
  list(): Promise<ConsumerGroupDto[]> {
    return this.service.list();
  }

  /** One consumer group */
  @Get(':name')
  @ApiErrors(400, 404)
  get(@NameParam() name: string): Promise<ConsumerGroupDto> {
    return this.service.get(name);
  }

  /** Change a group's filter or limits, or pause it (`paused: true`) */
  @Patch(':name')
  @ApiErrors(400, 404, 413)
  update(@NameParam() name: string, @Body() dto: UpdateConsumerDto): Promise<ConsumerGroupDto> {
    return this.service.update(name, dto);
  }

  /** Delete a group with its messages and dead letters */
  @Delete(':name')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 404)
  remove(@NameParam() name: string): Promise<void> {
    return this.service.remove(name);
  }

  /** Dead letters, oldest first */
  @Get(':name/dead-letters')
  @ApiErrors(400, 404)
  deadLetters(@NameParam() name: string, @Query() query: DeadLetterListQueryDto): Promise<ConsumerDeadLetterDto[]> {
    return this.service.deadLetters(name, query.limit ?? 100);
  }

  /** Deliver dead letters again (all, or `notificationIds`), their delivery count from 0 */
  @Post(':name/dead-letters/redeliver')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 413)
  async redeliverDeadLetters(@NameParam() name: string, @Body() dto: RedeliverDeadLettersDto): Promise<CountDto> {
    return { count: await this.service.redeliverDeadLetters(name, dto) };
  }

  /** Delete every dead letter */
  @Delete(':name/dead-letters')
  @ApiErrors(400, 404)
  async purgeDeadLetters(@NameParam() name: string): Promise<CountDto> {
    return { count: await this.service.purgeDeadLetters(name) };
  }

  /** Move the group to after a notification id, or after what was appended by a time; what it holds (not its dead letters) is forgotten */
  @Post(':name/seek')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 409, 413)
  seek(@NameParam() name: string, @Body() dto: SeekDto): Promise<ConsumerGroupDto> {
    return this.service.seek(name, dto);
  }
}

/**
 * Pull consumer groups, consumed (`consumers:consume`): workers receive leased messages over HTTP
 * and settle each lease (ack, nack, extend, term).
 */
@ApiTags('consumers')
@Controller('consumers')
@RequireScope('consumers:consume')
export class ConsumingController {
  constructor(private readonly service: ConsumersService) {}

  /** Lease up to `max` messages (after acknowledging `ack`, if given); with `waitMs`, wait for one when none is available (a long poll) */
  @Post(':name/receive')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 413)
  async receive(@NameParam() name: string, @Body() dto: ReceiveDto): Promise<ReceivedDto> {
    const acked = dto.ack?.length ? await this.service.ack(name, dto.ack) : undefined;
    return { messages: await this.service.receive(name, dto.max ?? 100, dto.waitMs ?? 0), ...(acked && { acked }) };
  }

  /** Done: the messages are acknowledged (idempotent) */
  @Post(':name/ack')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 413)
  ack(@NameParam() name: string, @Body() dto: LeaseIdsDto): Promise<SettledDto> {
    return this.service.ack(name, dto.leaseIds);
  }

  /** Not done: deliver again after `delayMs` (or the group's backoff); a dead letter after maxDeliver deliveries */
  @Post(':name/nack')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 413)
  nack(@NameParam() name: string, @Body() dto: NackDto): Promise<SettledDto> {
    return this.service.nack(name, dto.leaseIds, dto.delayMs);
  }

  /** Still working: the leases run for another ackWaitMs from now */
  @Post(':name/extend')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 413)
  extend(@NameParam() name: string, @Body() dto: LeaseIdsDto): Promise<SettledDto> {
    return this.service.extend(name, dto.leaseIds);
  }

  /** Never: the messages become dead letters at once */
  @Post(':name/term')
  @HttpCode(HttpStatus.OK)
  @ApiErrors(400, 404, 413)
  term(@NameParam() name: string, @Body() dto: TermDto): Promise<SettledDto> {
    return this.service.term(name, dto.leaseIds, dto.reason);
  }
}
