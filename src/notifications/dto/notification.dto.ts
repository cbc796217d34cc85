import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { canonicalTable } from '../../events/notification-filter.js';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IntField, PRINTABLE } from '../../common/validation.js';
import { NOTIFICATION_ID } from '../../events/event-catalog.js';
import { COLUMN_PATTERN, EVENT_PATTERN, OPERATIONS, TABLE_PATTERN, type Notification, type NotificationPayload, type TruncatedNotification, type Operation, type SchemaChange, type TableShape } from '../../../client/src/protocol.js';

/** `column:value`: a column name (the subscribe language's), a colon, any printable text. */
const WHERE_ENTRY = new RegExp(`${COLUMN_PATTERN.source.slice(0, -1)}:[^\\p{Cc}\\p{Cs}]*$`, 'u');

/** `where` entries as the log filters them: each column once (the last entry for it wins). */
export function whereOf(entries: readonly string[] | undefined): Record<string, string> | undefined {
  if (!entries?.length) return undefined;
  return Object.fromEntries(entries.map((entry) => [entry.slice(0, entry.indexOf(':')), entry.slice(entry.indexOf(':') + 1)]));
}

export class ListNotificationsQueryDto {
  /** An event name (`invoices.created`, `invoices.read`) or a prefix ending in `.*` (`invoices.*`, which leaves backfills' reads out). */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(EVENT_PATTERN, {
    message: 'event must be an event name such as invoices.created or a prefix such as invoices.*',
  })
  event?: string;

  /** A table, `invoices` (or `public.invoices`) or schema-qualified `sales.orders`. */
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? canonicalTable(value) : value))
  @IsString()
  @MaxLength(200)
  @Matches(TABLE_PATTERN, { message: 'table must be a table name such as invoices' })
  table?: string;

  /** The changed row's primary key value. */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  @Matches(PRINTABLE, { message: 'entityId must not contain control characters or invalid Unicode' })
  entityId?: string;

  /** Who made the change (`payload.actor`: the request's API key or `X-Actor`, else the database user). */
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(PRINTABLE, { message: 'actor must not contain control characters or invalid Unicode' })
  actor?: string;

  /**
   * `column:value` (repeat it for several columns): the row (`new`, or `old` for deletions) has that
   * value in that column, compared as text; a TRUNCATE or schema change of the table matches too.
   * Fast at any log size for a column chosen with `npm run capture -- lookup <table> <column>`
   * when `table` is given; any other column is found by reading the log.
   */
  @IsOptional()
  @ApiPropertyOptional({ type: [String], example: ['invoice_id:6c0f1b9e-8d4b-4a57-9a53-1c4a2f0f7e2d'] })
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? [value] : value))
  @IsArray({ message: 'where must be column:value' })
  @ArrayMaxSize(20, { message: 'where takes at most 20 columns' })
  @IsString({ each: true, message: 'where must be column:value' })
  @MaxLength(500, { each: true })
  @Matches(WHERE_ENTRY, { each: true, message: 'where must be column:value, e.g. where=invoice_id:6c0f1b9e-8d4b-4a57-9a53-1c4a2f0f7e2d' })
  where?: string[];

  /** Only notifications with a larger id (the previous page's `nextCursor`). */
  @IsOptional()
  @Matches(NOTIFICATION_ID, { message: 'after must be a notification id (digits)' })
  after?: string;

  @Type(() => Number)
  @IntField({ min: 1, max: 1000, optional: true, description: 'Page size', example: 100 })
  limit?: number = 100;

  /**
   * `true`: the newest `limit` notifications that match, ascending (a page to start a view with;
   * go on live with `since` = its last id, or page on with `after`). Not with `after`.
   */
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'tail must be true or false' })
  tail?: 'true' | 'false';
}

/** A table as capture saw it (client/src/protocol.ts). */
export class TableShapeDto implements TableShape {
  /** @example "public" */
  schema: string;
  /** @example "invoices" */
  table: string;
  /** The primary key's columns; null when the table has none (its notifications' `pk` is then the whole row). @example ["id"] */
  key: string[] | null;
  /** The columns in table order, with their types as PostgreSQL prints them. @example [{"name":"id","type":"uuid"},{"name":"invoice_no","type":"text"}] */
  columns: TableColumnDto[];
}

export class TableColumnDto {
  /** @example "invoice_no" */
  name: string;
  /** @example "character varying(40)" */
  type: string;
}

/** What a DDL command did to a captured table. */
export class SchemaChangeDto implements SchemaChange {
  /** The command. @example "ALTER TABLE" */
  command: string;
  before: TableShapeDto;
  /** null: the table was dropped and is no longer captured. */
  after: TableShapeDto | null;
}

/** The wire payload (client/src/protocol.ts) as OpenAPI describes it. */
export class NotificationPayloadDto implements NotificationPayload {
  /** The table's schema when the change was made. @example "public" */
  schema: string;
  /** The table's name when the change was made (a rename's SCHEMA_CHANGE has the old one). @example "invoice_items" */
  table: string;
  /** A row's INSERT, UPDATE or DELETE, or the whole table's TRUNCATE or SCHEMA_CHANGE; READ: a row as a backfill read it; BACKFILL_STARTED, _COMPLETED, _STOPPED: a backfill's own events. */
  @ApiProperty({ enum: OPERATIONS })
  op: Operation;
  /** The row's primary key (the whole row for a table without one); null for TRUNCATE, SCHEMA_CHANGE and a backfill's own events. */
  pk: Record<string, unknown> | null;
  /** The row after the change (for READ: as read) as to_jsonb writes it; null for deletions, TRUNCATE and SCHEMA_CHANGE; a backfill's own events: the backfill {id, state, where, destinations, rows, estimate, error}. */
  new: Record<string, unknown> | null;
  /** The row before the change; null for creations, reads, TRUNCATE and SCHEMA_CHANGE, and for a table captured without its old rows. */
  old: Record<string, unknown> | null;
  /** For updates, the columns whose values changed (null when the old row is not kept). */
  changedColumns: string[] | null;
  /** Only for SCHEMA_CHANGE: the command and the table before and after it. */
  schemaChange?: SchemaChangeDto;
  /** Only for READ and a backfill's own events: the backfill's id. @example "3" */
  backfill?: string;
  /** Only for the reads and events of a backfill aimed at chosen sinks: their ids (only those sinks get them). */
  destinations?: string[];
  /** Who changed it: the API caller (X-Actor) or the database user. @example "alice" */
  actor: string;
  /** The writing transaction's id. @example "123456" */
  txId: string;
  /** When the row changed (the writer's clock in the database). */
  @ApiProperty({ format: 'date-time' })
  changedAt: string;
}

/** The wire notification (client/src/protocol.ts) as OpenAPI describes it. */
export class NotificationDto implements Notification {
  /** Increases in the order notifications are delivered. @example "1042" */
  id: string;
  /** @example "invoice_items.updated" */
  event: string;
  @ApiProperty({ format: 'date-time' })
  createdAt: string;
  /**
   * Only from a sink (or subscription) with `coalesce: 'transaction'`, on a notification that
   * stands for several changes of its row in one transaction: their ids, ascending (`id` is the
   * first). Its payload is the net change. @example ["1042","1045"]
   */
  @ApiPropertyOptional({ type: [String], minItems: 2 })
  coalesced?: string[];
  payload: NotificationPayloadDto;
}

/** A truncated notification's payload: the keys, without the rows. */
export class TruncatedNotificationPayloadDto extends OmitType(NotificationPayloadDto, ['new', 'old', 'changedColumns', 'schemaChange'] as const) {}

/**
 * What a sink delivers instead of a notification too large for its destination (client/src/protocol.ts):
 * the same id, event and keys, without the rows; `href` fetches the whole notification.
 */
export class TruncatedNotificationDto implements TruncatedNotification {
  /** @example "1042" */
  id: string;
  /** @example "invoice_items.updated" */
  event: string;
  @ApiProperty({ format: 'date-time' })
  createdAt: string;
  /** Always true: a complete notification has no `truncated`. */
  @ApiProperty({ enum: [true] })
  truncated: true;
  /** `GET` it for the whole notification, relative to the service's address. @example "/notifications/1042" */
  href: string;
  /**
   * Only from a sink (or subscription) with `coalesce: 'transaction'`, on a notification that
   * stands for several changes of its row in one transaction: their ids, ascending (`id` is the
   * first). Its payload is the net change. @example ["1042","1045"]
   */
  @ApiPropertyOptional({ type: [String], minItems: 2 })
  coalesced?: string[];
  payload: TruncatedNotificationPayloadDto;
}

export class NotificationPageDto {
  data: NotificationDto[];
  /** The last id returned (pass it as `after`); null on an empty page. */
  nextCursor: string | null;
}
