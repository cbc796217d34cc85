import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches, MaxLength, ValidateBy } from 'class-validator';
import { StoredNotification } from './event-catalog.js';

const NAME = '[A-Za-z_][A-Za-z0-9_$]*';
export const EVENT_PATTERN = new RegExp(`^${NAME}(\\.${NAME})*(\\.\\*)?$`);
const TABLE_PATTERN = new RegExp(`^${NAME}(\\.${NAME})?$`);
const COLUMN_PATTERN = new RegExp(`^${NAME}$`);
const MAX_WHERE = 20;

/** `where`: up to 20 columns, each compared for equality with a string, number, boolean or null. */
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

/**
 * Which notifications a WebSocket subscription or a sink wants (the `subscribe` language): every
 * filter given must hold.
 */
// Stacked decorators register bottom-up, so the type check at the bottom runs first.
export class NotificationFilterDto {
  /** Event names (`invoices.created`) or prefixes ending in `.*` (`invoices.*`); none or empty: every event. */
  @IsOptional()
  @Matches(EVENT_PATTERN, { each: true, message: 'events must hold event names such as invoices.created or prefixes such as invoices.*' })
  @MaxLength(200, { each: true })
  @IsString({ each: true })
  @ArrayMaxSize(50)
  @IsArray()
  events?: string[];

  /** Tables (`invoices`, `sales.orders`); none: every table. */
  @IsOptional()
  @Matches(TABLE_PATTERN, { each: true, message: 'tables must hold table names such as invoices or sales.orders' })
  @MaxLength(200, { each: true })
  @IsString({ each: true })
  @ArrayMaxSize(50)
  @IsArray()
  tables?: string[];

  /** Column values the row (`new`, or `old` for deletions) must have, e.g. `{"invoice_id": "…"}`. */
  @IsOptional()
  @IsColumnEqualities()
  where?: Record<string, string | number | boolean | null>;
}

/** A filter, compiled for matching many notifications. */
export class NotificationFilter {
  private readonly exact: Set<string>;
  private readonly prefixes: string[];
  private readonly tables: Set<string> | undefined;
  private readonly where: [string, unknown][];

  constructor(filter: NotificationFilterDto) {
    const events = filter.events ?? [];
    this.exact = new Set(events.filter((event) => !event.endsWith('.*')));
    this.prefixes = events.filter((event) => event.endsWith('.*')).map((event) => event.slice(0, -1));
    this.tables = filter.tables ? new Set(filter.tables) : undefined;
    this.where = Object.entries(filter.where ?? {});
  }

  matches(notification: StoredNotification): boolean {
    if (this.exact.size || this.prefixes.length) {
      const { event } = notification;
      if (!this.exact.has(event) && !this.prefixes.some((prefix) => event.startsWith(prefix))) return false;
    }
    if (this.tables && !this.tables.has(notification.tableName)) return false;
    if (this.where.length) {
      // Deletions have no new row; their old one is what a client filters on.
      const row = notification.payload.new ?? notification.payload.old;
      if (!row || this.where.some(([column, value]) => row[column] !== value)) return false;
    }
    return true;
  }
}
