import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { IntField, TextField } from '../../common/validation.js';
import { COLUMN_PATTERN } from '../../../client/src/protocol.js';
import { NOTIFICATION_ID } from '../../events/event-catalog.js';
import { FilterChangesDto, NotificationFilterDto, StartField } from '../../events/notification-filter.js';
import { NotificationDto } from '../../notifications/dto/notification.dto.js';
import { CONSUMER_NAME, CONSUMER_ORDERS, type ConsumerOrder } from '../consumer-group.js';

const NAME_MESSAGE = 'name must be 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit';
const DAY_MS = 86_400_000;

const AckWait = () => IntField({ min: 1000, max: 12 * 3_600_000, optional: true, description: 'How long a lease lasts before the message is delivered again (default 30000)', example: 30000 });
const MaxAckPending = () => IntField({ min: 1, max: 100_000, optional: true, description: 'Messages leased at once, at most (default 1000)', example: 1000 });
const MaxDeliver = () =>
  applyDecorators(
    ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null),
    IsInt({ message: 'maxDeliver must be an integer (or null for no limit)' }),
    Min(1),
    Max(1000),
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000, nullable: true, description: 'Deliveries after which a message is a dead letter (default 5; null: no limit)', example: 5 }),
  );
const Backoff = () =>
  applyDecorators(
    IsOptional(),
    IsArray({ message: 'backoffMs must be a list of waits in milliseconds' }),
    ArrayMaxSize(20),
    IsInt({ each: true, message: 'backoffMs must be a list of waits in milliseconds (integers)' }),
    Min(0, { each: true }),
    Max(DAY_MS, { each: true }),
    ApiPropertyOptional({
      type: [Number],
      maxItems: 20,
      description: 'The wait before a nacked message is delivered again, by its delivery count (the last repeats); default none: at once',
      example: [1000, 5000, 30000],
    }),
  );

/** A pull consumer group: its filter (the sinks' language), its order and its limits. */
export class CreateConsumerDto extends NotificationFilterDto {
  /** Unique; in the consuming routes' paths. @example "billing-workers" */
  @IsString({ message: NAME_MESSAGE })
  @Matches(CONSUMER_NAME, { message: NAME_MESSAGE })
  name: string;

  /** `key` (default): two changes of one row are never leased at once, and are leased in log order; `none`: any order. */
  @IsOptional()
  @IsIn(CONSUMER_ORDERS, { message: `order must be one of ${CONSUMER_ORDERS.join(', ')}` })
  @ApiPropertyOptional({ enum: CONSUMER_ORDERS })
  order?: ConsumerOrder;

  /**
   * With order `key`: the columns whose values make a message's key instead of its row's primary
   * key, e.g. `["invoice_id"]`: an invoice's items one at a time, whichever item changed (`new`,
   * else `old`; a column a row lacks counts as null). Fixed at creation.
   */
  @IsOptional()
  @IsArray({ message: 'keyColumns must be a list of column names' })
  @ArrayMinSize(1, { message: 'keyColumns must name at least one column' })
  @ArrayMaxSize(10)
  @Matches(COLUMN_PATTERN, { each: true, message: 'keyColumns must be a list of column names' })
  @ApiPropertyOptional({ type: [String], minItems: 1, maxItems: 10, example: ['invoice_id'] })
  keyColumns?: string[];

  @AckWait()
  ackWaitMs?: number;

  @MaxAckPending()
  maxAckPending?: number;

  @MaxDeliver()
  maxDeliver?: number | null;

  @Backoff()
  backoffMs?: number[];

  /** Where the group starts: `now` (the default), `start` (every stored notification) or after a notification id. */
  @StartField()
  from?: string;
}

/** Changes to a group; absent fields stay, a filter field set to null is removed. A new filter applies to what the group has not taken from the log yet. */
export class UpdateConsumerDto extends FilterChangesDto {
  @AckWait()
  ackWaitMs?: number;

  @MaxAckPending()
  maxAckPending?: number;

  @MaxDeliver()
  maxDeliver?: number | null;

  @Backoff()
  backoffMs?: number[];

  /** true: receive hands out nothing (leases out there run on); false: it does again. */
  @IsOptional()
  @IsBoolean({ message: 'paused must be true or false' })
  paused?: boolean;
}

export class ReceiveDto {
  @IntField({ min: 1, max: 1000, optional: true, description: 'Messages at most (default 100)', example: 100 })
  max?: number;

  @IntField({ min: 0, max: 60_000, optional: true, description: 'Wait this long for a message when none is available (default 0: answer at once)', example: 20000 })
  waitMs?: number;

  /**
   * Leases to acknowledge first, as `ack` would (idempotent), before leasing: a worker's ack and its
   * next receive in one request, and a row's next change may come in this very answer.
   */
  @IsOptional()
  @ApiPropertyOptional({ type: [String], format: 'uuid', maxItems: 1000 })
  @IsUUID('all', { each: true, message: 'ack must be lease ids from receive (UUIDs)' })
  @ArrayMaxSize(1000)
  @IsArray({ message: 'ack must be a list of lease ids from receive' })
  ack?: string[];
}

export class LeaseIdsDto {
  /** Lease ids from `receive`. */
  @IsArray({ message: 'leaseIds must be a list of lease ids from receive' })
  @ArrayMinSize(1, { message: 'leaseIds must name at least one lease' })
  @ArrayMaxSize(1000)
  @IsUUID('all', { each: true, message: 'leaseIds must be lease ids from receive (UUIDs)' })
  @ApiProperty({ type: [String], format: 'uuid', minItems: 1, maxItems: 1000 })
  leaseIds: string[];
}

export class NackDto extends LeaseIdsDto {
  @IntField({ min: 0, max: DAY_MS, optional: true, description: "Deliver again after this wait (default: the group's backoffMs for the delivery count, or at once)", example: 5000 })
  delayMs?: number;
}

export class TermDto extends LeaseIdsDto {
  @TextField({ maxLength: 500, optional: true, description: "Why (the dead letter's lastError; default 'terminated')", example: 'invoice belongs to a deleted tenant' })
  reason?: string;
}

/** Exactly one of the two. */
export class SeekDto {
  /** After this notification id. */
  @IsOptional()
  @Matches(NOTIFICATION_ID, { message: 'id must be a notification id (digits)' })
  @IsString({ message: 'id must be a notification id given as a string' })
  id?: string;

  /** After the notifications appended at or before this time (ISO 8601). */
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'at must be an ISO 8601 time' })
  at?: string;
}

export class RedeliverDeadLettersDto {
  /** Only these (default: every dead letter). */
  @IsOptional()
  @IsArray({ message: 'notificationIds must be a list of notification ids' })
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @Matches(NOTIFICATION_ID, { each: true, message: 'notificationIds must be notification ids (digits)' })
  notificationIds?: string[];
}

export class DeadLetterListQueryDto {
  @Type(() => Number)
  @IntField({ min: 1, max: 1000, optional: true, description: 'Page size (oldest first)', example: 100 })
  limit?: number = 100;
}

export class ConsumerLagDto {
  /** Notifications in the log after the group's position (matching or not). */
  ids: number;
  /** Since the first notification after the group's position committed (its `changedAt`); 0 when caught up. */
  seconds: number;
}

export class ConsumerGroupDto {
  name: string;
  events: string[] | null;
  tables: string[] | null;
  where: Record<string, string | number | boolean | null> | null;
  @ApiProperty({ enum: CONSUMER_ORDERS })
  order: ConsumerOrder;
  /** The columns whose values make the key; null: the row's primary key. */
  @ApiProperty({ type: [String], nullable: true })
  keyColumns: string[] | null;
  ackWaitMs: number;
  maxAckPending: number;
  @ApiProperty({ type: 'integer', nullable: true })
  maxDeliver: number | null;
  backoffMs: number[];
  paused: boolean;
  /** Every notification up to it is acknowledged, a dead letter, or not for this group. @example "1042" */
  position: string;
  /** How far the group has taken notifications from the log. @example "2042" */
  scannedThrough: string;
  /** Messages waiting to be leased (some behind an earlier change of their row). */
  pending: number;
  /** Messages leased and not yet settled. */
  inFlight: number;
  deadLetters: number;
  lag: ConsumerLagDto;
  /** The last thing that went wrong (retention deleted messages before they were acknowledged); null if nothing. */
  @ApiProperty({ type: String, nullable: true })
  lastError: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastErrorAt: Date | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}

export class ConsumerMessageDto {
  /** Settle it with this (ack, nack, extend, term). */
  @ApiProperty({ format: 'uuid' })
  leaseId: string;
  /** 1 on the first delivery. */
  deliveries: number;
  /** Settle or extend it before then, or it is delivered again. */
  @ApiProperty({ type: String, format: 'date-time' })
  leasedUntil: Date;
  notification: NotificationDto;
}

export class SettledDto {
  /** Lease ids this call settled (or extended). */
  done: string[];
  /** Lease ids the group no longer has: settled already, expired and delivered again, or never given. Settling is idempotent: nothing happened to them. */
  unknown: string[];
}

export class ReceivedDto {
  messages: ConsumerMessageDto[];
  /** Only when the request carried `ack`: what those acks did. */
  @ApiPropertyOptional({ type: SettledDto })
  acked?: SettledDto;
}

export class ConsumerDeadLetterDto {
  notificationId: string;
  deliveries: number;
  @ApiProperty({ type: String, nullable: true })
  lastError: string | null;
  @ApiProperty({ type: String, format: 'date-time' })
  deadAt: Date;
}

export class CountDto {
  count: number;
}
