import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsObject, IsOptional, IsString, Matches, ValidateIf, ValidateNested } from 'class-validator';
import { FilterChangesDto, NotificationFilterDto, StartField } from '../../events/notification-filter.js';
import { IntField } from '../../common/validation.js';
import { NOTIFICATION_ID } from '../../events/event-catalog.js';
import type { NatsSettingsChangesDto, NatsSettingsDto } from '../drivers/nats.dto.js';
import type { RabbitMqSettingsChangesDto, RabbitMqSettingsDto } from '../drivers/rabbitmq.dto.js';
import { driverFor, SINK_DRIVERS } from '../drivers/sink-drivers.js';
import { WebhookUrl, type WebhookSettingsChangesDto, type WebhookSettingsDto } from '../drivers/webhook.dto.js';
import { COALESCE_MODES, type CoalesceMode } from '../../../client/src/protocol.js';
import { EXHAUSTED_ACTIONS, type ExhaustedAction, SINK_KINDS, SINK_NAME, type SinkKind } from '../sink.js';

export { CreatedWebhookDto, WebhookSinkDto } from '../drivers/webhook.dto.js';
export type { SinkView } from '../drivers/sink-drivers.js';

const NAME_MESSAGE = 'name must be 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit';
// applyDecorators registers in order, and class-validator runs a property's rules in that order:
// the type check comes first.
const SinkName = () => applyDecorators(IsOptional(), IsString({ message: NAME_MESSAGE }), Matches(SINK_NAME, { message: NAME_MESSAGE }));
const OnExhausted = () =>
  applyDecorators(
    IsOptional(),
    IsIn(EXHAUSTED_ACTIONS, { message: `onExhausted must be one of ${EXHAUSTED_ACTIONS.join(', ')}` }),
    ApiPropertyOptional({ enum: EXHAUSTED_ACTIONS }),
  );
const COALESCE_MESSAGE = `coalesce must be ${COALESCE_MODES.map((mode) => `'${mode}'`).join(' or ')}, or null for every change`;
/** null (on a change: back to every change) or a mode. */
const Coalesce = () =>
  applyDecorators(
    ValidateIf((_object: object, value: unknown) => value !== undefined && value !== null),
    IsIn(COALESCE_MODES, { message: COALESCE_MESSAGE }),
    ApiPropertyOptional({
      enum: COALESCE_MODES,
      nullable: true,
      description:
        '`transaction`: one notification per row per transaction, the row’s net change (an invoice created with items: one `created` with its total), in the order of each row’s first change, carrying that change’s id and `coalesced` (the ids it stands for); the filter applies to the net change. null or absent: every change.',
    }),
  );

/**
 * A kind's settings in a /sinks body, under the kind's name, validated by its driver's class. On
 * creation the one of the body's `kind` is required; another kind's, if valid, is refused by the
 * service with a message that says so.
 */
function KindSettings(kind: SinkKind, use: 'create' | 'update'): PropertyDecorator {
  const type = () => driverFor(kind).dto[use];
  const required = use === 'create' ? ` (required for kind ${kind})` : '';
  return applyDecorators(
    ValidateIf((dto: Partial<Record<SinkKind | 'kind', unknown>>) => (use === 'create' && dto.kind === kind) || dto[kind] !== undefined),
    IsObject({ message: use === 'create' ? missingSettings(kind) : `${kind} must be an object of ${kind} settings` }),
    ValidateNested(),
    Type(type),
    ApiPropertyOptional({ type, description: `The settings of a ${kind} sink${required}.` }),
  );
}

/** A creation without its kind's settings: what the smallest ones look like (the rest have defaults). */
export function missingSettings(kind: SinkKind): string {
  return `${kind} must be an object of ${kind} settings, at least ${JSON.stringify(driverFor(kind).minimalSettings)} (required for kind ${kind})`;
}

/** Fields every sink has, on creation. */
class NewSinkFields extends NotificationFilterDto {
  /** Unique among sinks. Default: the kind and a random suffix. @example "billing" */
  @SinkName()
  name?: string;

  /**
   * Where delivery starts: `now` (notifications committed from now on, the default), `start` (every
   * stored notification) or after a notification id (a cursor).
   */
  @StartField()
  from?: string;

  /** After the last retry of a notification: dead-letter it and go on (default), or pause at it. Webhooks only: brokers retry without end. */
  @OnExhausted()
  onExhausted?: ExhaustedAction;

  @Coalesce()
  coalesce?: CoalesceMode | null;
}

/** A sink of any kind: `kind`, and that kind's settings under its name (`{"kind": "nats", "nats": {…}}`). */
export class CreateSinkDto extends NewSinkFields {
  @IsIn(SINK_KINDS, { message: `kind must be one of ${SINK_KINDS.join(', ')}` })
  @ApiProperty({ enum: SINK_KINDS })
  kind: SinkKind;

  @KindSettings('webhook', 'create')
  webhook?: WebhookSettingsDto;

  @KindSettings('rabbitmq', 'create')
  rabbitmq?: RabbitMqSettingsDto;

  @KindSettings('nats', 'create')
  nats?: NatsSettingsDto;
}

/** A webhook through /webhooks: its settings at the top of the body. */
export class CreateWebhookDto extends NewSinkFields {
  /** The endpoint: http or https; no private, loopback or link-local address unless the service allows them. */
  @WebhookUrl()
  @ApiProperty({ example: 'https://billing.example.com/hooks/rowcast' })
  url: string;
}

/**
 * Changes to a sink; absent fields stay as they are, a filter field set to null is removed. A new
 * filter applies from the sink's position on.
 */
class SinkChangesDto extends FilterChangesDto {
  @SinkName()
  name?: string;

  /** true pauses delivery (the position stays); false resumes it. */
  @IsOptional()
  @IsBoolean({ message: 'paused must be true or false' })
  paused?: boolean;

  @OnExhausted()
  onExhausted?: ExhaustedAction;

  /** Takes effect from the sink's position: a transaction in progress there gives the rows it first changed after it. */
  @Coalesce()
  coalesce?: CoalesceMode | null;
}

/** Changes to a sink of any kind; its settings under its kind's name (another kind's are refused). */
export class UpdateSinkDto extends SinkChangesDto {
  @KindSettings('webhook', 'update')
  webhook?: WebhookSettingsChangesDto;

  @KindSettings('rabbitmq', 'update')
  rabbitmq?: RabbitMqSettingsChangesDto;

  @KindSettings('nats', 'update')
  nats?: NatsSettingsChangesDto;
}

/** Changes to a webhook through /webhooks: its settings at the top of the body. */
export class UpdateWebhookDto extends SinkChangesDto {
  @IsOptional()
  @WebhookUrl()
  url?: string;
}

/** A /webhooks body in the shape of a /sinks one. */
export function asSinkCreation(dto: CreateWebhookDto): CreateSinkDto {
  const { url, ...fields } = dto;
  return { ...fields, kind: 'webhook', webhook: { url } };
}

export function asSinkChanges(dto: UpdateWebhookDto): UpdateSinkDto {
  const { url, ...fields } = dto;
  return { ...fields, webhook: url === undefined ? undefined : { url } };
}

/**
 * A response that is a sink, of whichever kind: `oneOf` the drivers' classes, told apart by `kind`.
 * `created`: the creation response (a webhook's shows its secret once).
 */
export function ApiSinkResponse(status: number, options: { created?: boolean; list?: boolean } = {}): MethodDecorator {
  const models = SINK_DRIVERS.map((driver) => (options.created && driver.dto.created) || driver.dto.sink);
  const sink = {
    oneOf: models.map((model) => ({ $ref: getSchemaPath(model) })),
    discriminator: { propertyName: 'kind', mapping: Object.fromEntries(SINK_DRIVERS.map((driver, i) => [driver.kind, getSchemaPath(models[i])])) },
  };
  return applyDecorators(ApiExtraModels(...models), ApiResponse({ status, schema: options.list ? { type: 'array', items: sink } : sink }));
}

export class RotateSecretDto {
  @IntField({ min: 0, max: 604_800, optional: true, description: 'Seconds the old secret is still signed with (default 86400)', example: 86400 })
  overlapSeconds?: number;
}

/** Exactly one of the three. */
/**
 * What to deliver again: one notification, every dead letter, or a range of the log from `from`
 * (everything after it: the position moves back; with `to` or a filter: the notifications in
 * (from, to] that the sink's filter and this one take, queued ahead of the rest). `dryRun` says how
 * many it would send, and sends nothing.
 */
export class RedeliverDto extends NotificationFilterDto {
  /** One notification, delivered again ahead of the rest. */
  @IsOptional()
  @Matches(NOTIFICATION_ID, { message: 'notificationId must be a notification id (digits)' })
  @IsString({ message: 'notificationId must be a notification id given as a string' })
  notificationId?: string;

  /** Every dead letter, delivered again ahead of the rest, oldest first. */
  @IsOptional()
  @IsIn([true], { message: 'deadLetters must be true' })
  deadLetters?: true;

  /** Everything after this cursor again: the position moves back (or on) to it; with `to` or a filter, a range queued ahead of the rest. */
  @IsOptional()
  @Matches(NOTIFICATION_ID, { message: 'from must be a notification id (digits)' })
  @IsString({ message: 'from must be a notification id given as a string' })
  from?: string;

  /** With `from`: up to this id (included), at most the sink's position (what comes after it is still to be delivered). */
  @IsOptional()
  @Matches(NOTIFICATION_ID, { message: 'to must be a notification id (digits)' })
  @IsString({ message: 'to must be a notification id given as a string' })
  to?: string;

  /** Answer how many it would send, and send nothing. */
  @IsOptional()
  @IsBoolean({ message: 'dryRun must be true or false' })
  dryRun?: boolean;
}

export class ListQueryDto {
  @Type(() => Number)
  @IntField({ min: 1, max: 1000, optional: true, description: 'Page size (newest first)', example: 100 })
  limit?: number = 100;
}

export class RotatedSecretDto {
  /** The new signing secret: shown this once. */
  secret: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  previousSecretExpiresAt: Date | null;
}

export class RedeliveryDto {
  /** Notifications queued for delivery again, or that would be with `dryRun` (a `from` rewind: null, everything after it; with `dryRun`, how many of those the sink's filter takes). */
  @ApiProperty({ type: Number, nullable: true })
  queued: number | null;
  /** The position after a `from` rewind (with `dryRun`: as it would be). */
  position: string;
  /** Only with `dryRun`: nothing was sent or moved. */
  @ApiPropertyOptional()
  dryRun?: true;
  /** With a range: the first and last id it takes (null when none). */
  @ApiPropertyOptional({ type: String, nullable: true })
  first?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true })
  last?: string | null;
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
