import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, Matches, MaxLength, ValidateBy, ValidateIf } from 'class-validator';
import { canonicalTable, compileFilter } from '../../client/src/filter.js';
import { COLUMN_PATTERN, EVENT_PATTERN, TABLE_PATTERN } from '../../client/src/protocol.js';
import { NOTIFICATION_ID, StoredNotification } from './event-catalog.js';

const MAX_WHERE = 20;

/** `where`: up to 20 columns, each compared with a string, number, boolean or null. */
function IsColumnEqualities(): PropertyDecorator {
  return ValidateBy({
    name: 'isColumnEqualities',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).length <= MAX_WHERE &&
        Object.entries(value).every(
          ([column, v]) => COLUMN_PATTERN.test(column) && (v === null || ['string', 'number', 'boolean'].includes(typeof v)),
        ),
      defaultMessage: () => `where must map up to ${MAX_WHERE} column names to a string, number, boolean or null each`,
    },
  });
}

interface FieldOptions {
  /** null is allowed (and means: no such filter), as in a change that removes it. */
  nullable?: boolean;
}

/** Absent passes; null passes only where it is allowed. The type check runs first. */
const given = ({ nullable }: FieldOptions) => ValidateIf((_object: object, value: unknown) => value !== undefined && !(nullable && value === null));

/** A non-empty list of names (`events`, `tables`): absent means every one, null only where allowed. */
function NameListField(
  options: FieldOptions,
  list: { pattern: RegExp; message: string; empty: string; description: string; example: string[]; map?: (name: string) => string },
): PropertyDecorator {
  const { message, map } = list;
  return applyDecorators(
    ApiPropertyOptional({
      type: [String],
      minItems: 1,
      maxItems: 50,
      nullable: options.nullable,
      description: list.description + (options.nullable ? '; null removes the filter' : ''),
      example: list.example,
    }),
    ...(map ? [Transform(({ value }: { value: unknown }) => (Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? map(v) : v)) : value))] : []),
    given(options),
    IsArray({ message }),
    ArrayMinSize(1, { message: list.empty }),
    ArrayMaxSize(50),
    IsString({ each: true, message }),
    MaxLength(200, { each: true }),
    Matches(list.pattern, { each: true, message }),
  );
}

/** `events`: at least one event name or `.*` prefix (left out: every event). */
export function EventsField(options: FieldOptions = {}): PropertyDecorator {
  return NameListField(options, {
    pattern: EVENT_PATTERN,
    message: 'events must be a non-empty array of event names such as invoices.created or prefixes such as invoices.*',
    empty: 'events must name at least one event or prefix (leave it out for every event)',
    description: 'Event names (`invoices.created`) or prefixes ending in `.*` (`invoices.*`); left out: every event',
    example: ['invoices.*'],
  });
}

/** A table as the log names it (`invoices` for `public.invoices`): the client library's rule. */
export { canonicalTable };

/** `tables`: at least one table, `invoices`, `public.invoices` or `sales.orders` (left out: every table). */
export function TablesField(options: FieldOptions = {}): PropertyDecorator {
  return NameListField(options, {
    pattern: TABLE_PATTERN,
    message: 'tables must be a non-empty array of table names such as invoices or sales.orders',
    empty: 'tables must name at least one table (leave it out for every table)',
    description: 'Tables under capture or in the log (`invoices` or `public.invoices`, `sales.orders`); left out: every table',
    example: ['invoices'],
    map: canonicalTable,
  });
}

/** `where`: column values the row must have. */
export function WhereField(options: FieldOptions = {}): PropertyDecorator {
  return applyDecorators(
    ApiPropertyOptional({
      type: 'object',
      additionalProperties: { oneOf: [{ type: 'string', nullable: true }, { type: 'number' }, { type: 'boolean' }] },
      maxProperties: MAX_WHERE,
      nullable: options.nullable,
      description: 'Column values the row (`new`, `old` for deletions) must have, compared as text' + (options.nullable ? '; null removes the filter' : ''),
      example: { invoice_id: '6c0f1b9e-8d4b-4a57-9a53-1c4a2f0f7e2d' },
    }),
    given(options),
    IsColumnEqualities(),
  );
}

/**
 * Which notifications a WebSocket subscription or a sink wants (the `subscribe` language): every
 * filter given must hold; a filter left out holds for everything.
 */
export class NotificationFilterDto {
  /** Event names (`invoices.created`) or prefixes ending in `.*` (`invoices.*`); left out: every event. */
  @EventsField()
  events?: string[];

  /** Tables (`invoices`, `sales.orders`); left out: every table. */
  @TablesField()
  tables?: string[];

  /**
   * Column values the row (`new`, or `old` for deletions) must have, e.g. `{"invoice_id": "…"}`.
   * Values compare as text: `3` matches the column value `"3"` and the other way round; `null`
   * matches a null or missing column.
   */
  @WhereField()
  where?: Record<string, string | number | boolean | null>;
}

/**
 * A filter, compiled for matching many notifications. The rules (events and `.*` prefixes, tables,
 * `where` as text) are the client library's (client/src/filter.ts), so a client filtering what one
 * connection carries for several subscriptions agrees with the server by construction.
 */
export class NotificationFilter {
  private readonly test: ReturnType<typeof compileFilter>;

  /** `destination`: the sink (id) it filters for, which gets the backfills aimed at it (compileFilter). */
  constructor(filter: NotificationFilterDto, destination?: string) {
    this.test = compileFilter(filter, destination);
  }

  matches(notification: StoredNotification): boolean {
    return this.test(notification);
  }
}

/** The filter fields of a request as a destination stores them: those given, an empty `where` as none. */
export function storedFilter(dto: NotificationFilterDto): NotificationFilterDto {
  const filter: NotificationFilterDto = {};
  if (dto.events !== undefined) filter.events = dto.events;
  if (dto.tables !== undefined) filter.tables = dto.tables;
  if (dto.where !== undefined && dto.where !== null && Object.keys(dto.where).length > 0) filter.where = dto.where;
  return filter;
}

/** The filter fields of a change to a destination (a sink, a consumer group): a list or `where` replaces the stored one, null removes it, left out it stays. */
export class FilterChangesDto {
  @EventsField({ nullable: true })
  events?: string[] | null;

  @TablesField({ nullable: true })
  tables?: string[] | null;

  @WhereField({ nullable: true })
  where?: Record<string, string | number | boolean | null> | null;
}

/** `stored` with `changes` applied (fields left out stay); undefined when the request changes no filter field. */
export function changedFilter(stored: NotificationFilterDto, changes: FilterChangesDto): NotificationFilterDto | undefined {
  if (changes.events === undefined && changes.tables === undefined && changes.where === undefined) return undefined;
  const filter: Record<string, unknown> = { ...stored };
  for (const field of ['events', 'tables', 'where'] as const) {
    if (changes[field] === null) delete filter[field];
    else if (changes[field] !== undefined) filter[field] = changes[field];
  }
  return storedFilter(filter);
}

const START = new RegExp(`^(now|start|${NOTIFICATION_ID.source.slice(1, -1)})$`);
const START_MESSAGE = "from must be 'now', 'start' or a notification id (digits)";

/** `from` of a new destination (a sink, a consumer group): `now`, `start` or after a notification id (NotificationLog.startPosition). */
export function StartField(): PropertyDecorator {
  return applyDecorators(
    ValidateIf((_object: object, value: unknown) => value !== undefined),
    IsString({ message: START_MESSAGE }),
    Matches(START, { message: START_MESSAGE }),
    ApiPropertyOptional({ example: 'now' }),
  );
}
