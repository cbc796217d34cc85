import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { EventsField, NotificationFilterDto, TablesField, WhereField } from '../../events/notification-filter.js';
import { IntField } from '../../common/validation.js';
import { EXHAUSTED_ACTIONS, type ExhaustedAction, SINK_NAME, SINK_STATES, type SinkState } from '../sink.js';
import { NOTIFICATION_ID } from '../../events/event-catalog.js';

const NAME_MESSAGE = 'name must be 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit';
// applyDecorators registers in order, and class-validator runs a property's rules in that order:
// the type check comes first.
const SinkName = () => applyDecorators(IsOptional(), IsString({ message: NAME_MESSAGE }), Matches(SINK_NAME, { message: NAME_MESSAGE }));
const WebhookUrl = () =>
  applyDecorators(
    IsString({ message: 'url must be an http:// or https:// URL' }),
    MaxLength(2000),
    Matches(/^https?:\/\/[^\s]+$/i, { message: 'url must be an http:// or https:// URL' }),
  );
const OnExhausted = () =>
  applyDecorators(
    IsOptional(),
    IsIn(EXHAUSTED_ACTIONS, { message: `onExhausted must be one of ${EXHAUSTED_ACTIONS.join(', ')}` }),
    ApiPropertyOptional({ enum: EXHAUSTED_ACTIONS }),
  );
const FROM = new RegExp(`^(now|start|${NOTIFICATION_ID.source.slice(1, -1)})$`);
const FROM_MESSAGE = "from must be 'now', 'start' or a notification id (digits)";

/** Fields every sink has, on creation. */
class NewSinkFields extends NotificationFilterDto {
  /** Unique among sinks. Default: the kind and a random suffix. @example "billing" */
  @SinkName()
  name?: string;

  /**
   * Where delivery starts: `now` (notifications committed from now on, the default), `start` (every
   * stored notification) or after a notification id (a cursor).
   */
  @IsOptional()
  @Matches(FROM, { message: FROM_MESSAGE })
  @IsString({ message: FROM_MESSAGE })
  @ApiPropertyOptional({ example: 'now' })
  from?: string;
}

export class CreateWebhookDto extends NewSinkFields {
  /** The endpoint: http or https; no private, loopback or link-local address unless the service allows them. */
  @WebhookUrl()
  @ApiProperty({ example: 'https://billing.example.com/hooks/rowcast' })
  url: string;

  /** After the last retry of a notification: dead-letter it and go on (default), or pause the webhook at it. */
  @OnExhausted()
  onExhausted?: ExhaustedAction;
}

/**
 * Changes to a sink; absent fields stay as they are, a filter field set to null is removed. A new
 * filter applies from the sink's position on.
 */
export class UpdateSinkDto {
  @EventsField({ nullable: true })
  events?: string[] | null;

  @TablesField({ nullable: true })
  tables?: string[] | null;

  @WhereField({ nullable: true })
  where?: Record<string, string | number | boolean | null> | null;

  @SinkName()
  name?: string;

  /** true pauses delivery (the position stays); false resumes it. */
  @IsOptional()
  @IsBoolean({ message: 'paused must be true or false' })
  paused?: boolean;
}

export class UpdateWebhookDto extends UpdateSinkDto {
  @IsOptional()
  @WebhookUrl()
  url?: string;

  @OnExhausted()
  onExhausted?: ExhaustedAction;
}

export class RabbitMqSettingsDto {
  /** amqp:// or amqps:// URL, credentials included; never returned or logged. */
  @Matches(/^amqps?:\/\/[^\s]+$/i, { message: 'rabbitmq.url must be an amqp:// or amqps:// URL' })
  @MaxLength(2000)
  @IsString({ message: 'rabbitmq.url must be an amqp:// or amqps:// URL' })
  @ApiProperty({ example: 'amqp://guest:guest@127.0.0.1:5672' })
  url: string;

  /** A topic exchange (declared durable if missing); routing key = event name. Default: rowcast. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9._:-]{1,200}$/, { message: 'rabbitmq.exchange must be 1–200 letters, digits, dots, dashes, colons or underscores' })
  @IsString({ message: 'rabbitmq.exchange must be a string' })
  exchange?: string;
}

export class NatsSettingsDto {
  @Matches(/^(nats|tls):\/\/[^\s,]+$/i, { each: true, message: 'nats.servers must hold nats:// or tls:// URLs' })
  @IsString({ each: true, message: 'nats.servers must hold nats:// or tls:// URLs' })
  @ArrayMaxSize(10)
  @ArrayMinSize(1, { message: 'nats.servers must name at least one server' })
  @IsArray({ message: 'nats.servers must be an array of URLs' })
  @ApiProperty({ example: ['nats://127.0.0.1:4222'] })
  servers: string[];

  /** Subjects are `<subjectPrefix>.<table>.<op>`. Default: rowcast. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { message: 'nats.subjectPrefix must be dot-separated tokens of letters, digits, dashes or underscores' })
  @MaxLength(200)
  @IsString({ message: 'nats.subjectPrefix must be a string' })
  subjectPrefix?: string;

  /** The JetStream stream (created over `<subjectPrefix>.>` if missing). Default: ROWCAST. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,100}$/, { message: 'nats.stream must be 1–100 letters, digits, dashes or underscores' })
  @IsString({ message: 'nats.stream must be a string' })
  stream?: string;

  @IsOptional()
  @MaxLength(200)
  @IsString({ message: 'nats.user must be a string' })
  user?: string;

  /** Never returned or logged. */
  @IsOptional()
  @MaxLength(500)
  @IsString({ message: 'nats.pass must be a string' })
  pass?: string;

  /** Never returned or logged. */
  @IsOptional()
  @MaxLength(2000)
  @IsString({ message: 'nats.token must be a string' })
  token?: string;
}

export class CreateSinkDto extends NewSinkFields {
  /** Webhooks are created through /webhooks. */
  @IsIn(['rabbitmq', 'nats'], { message: 'kind must be rabbitmq or nats (webhooks are created through /webhooks)' })
  @ApiProperty({ enum: ['rabbitmq', 'nats'] })
  kind: 'rabbitmq' | 'nats';

  /** Required when kind is rabbitmq. */
  @ValidateIf((dto: CreateSinkDto) => dto.kind === 'rabbitmq' || dto.rabbitmq !== undefined)
  @ValidateNested()
  @IsObject({ message: 'rabbitmq must be an object with url and exchange (required for kind rabbitmq)' })
  @Type(() => RabbitMqSettingsDto)
  rabbitmq?: RabbitMqSettingsDto;

  /** Required when kind is nats. */
  @ValidateIf((dto: CreateSinkDto) => dto.kind === 'nats' || dto.nats !== undefined)
  @ValidateNested()
  @IsObject({ message: 'nats must be an object with servers, subjectPrefix and stream (required for kind nats)' })
  @Type(() => NatsSettingsDto)
  nats?: NatsSettingsDto;
}

export class RotateSecretDto {
  @IntField({ min: 0, max: 604_800, optional: true, description: 'Seconds the old secret is still signed with (default 86400)', example: 86400 })
  overlapSeconds?: number;
}

/** Exactly one of the three. */
export class RedeliverDto {
  /** One notification, delivered again ahead of the rest. */
  @IsOptional()
  @Matches(NOTIFICATION_ID, { message: 'notificationId must be a notification id (digits)' })
  @IsString({ message: 'notificationId must be a notification id given as a string' })
  notificationId?: string;

  /** Every dead letter, delivered again ahead of the rest, oldest first. */
  @IsOptional()
  @IsIn([true], { message: 'deadLetters must be true' })
  deadLetters?: true;

  /** Everything after this cursor again: the position moves back (or on) to it. */
  @IsOptional()
  @Matches(NOTIFICATION_ID, { message: 'from must be a notification id (digits)' })
  @IsString({ message: 'from must be a notification id given as a string' })
  from?: string;
}

export class ListQueryDto {
  @Type(() => Number)
  @IntField({ min: 1, max: 1000, optional: true, description: 'Page size (newest first)', example: 100 })
  limit?: number = 100;
}

export class SinkDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ enum: ['webhook', 'rabbitmq', 'nats'] })
  kind: 'webhook' | 'rabbitmq' | 'nats';
  name: string;
  events: string[] | null;
  tables: string[] | null;
  where: Record<string, string | number | boolean | null> | null;
  /** Kind-specific settings without credentials: a webhook's url; rabbitmq's url (password hidden) and exchange; nats' servers, subjectPrefix, stream, user. */
  settings: Record<string, unknown>;
  @ApiProperty({ enum: SINK_STATES })
  state: SinkState;
  @ApiProperty({ enum: EXHAUSTED_ACTIONS })
  onExhausted: ExhaustedAction;
  /** The last notification id delivered or passed over. @example "1042" */
  position: string;
  /** The most recent failure (kept after delivery recovers; see lastErrorAt), null if none yet. */
  lastError: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastErrorAt: Date | null;
  /** Only for webhooks: until when a rotated-out secret is still signed with. */
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  previousSecretExpiresAt?: Date | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}

export class CreatedWebhookDto extends SinkDto {
  /** The signing secret (`whsec_…`): shown this once. */
  secret: string;
}

export class RotatedSecretDto {
  /** The new signing secret: shown this once. */
  secret: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  previousSecretExpiresAt: Date | null;
}

export class RedeliveryDto {
  /** Notifications queued for delivery again (a `from` rewind: null, everything after it). */
  @ApiProperty({ type: Number, nullable: true })
  queued: number | null;
  /** The position after a `from` rewind. */
  position: string;
}

export class DeliveryAttemptDto {
  notificationId: string;
  @ApiProperty({ type: String, format: 'date-time' })
  at: Date;
  @ApiPropertyOptional({ type: 'integer' })
  statusCode?: number;
  latencyMs: number;
  delivered: boolean;
  /** Why it failed, or the start of the response (at most 256 characters). */
  detail: string;
}

export class DeadLetterDto {
  notificationId: string;
  attempts: number;
  lastError: string;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
}
