import { ArrayMaxSize, IsArray, IsOptional, IsString, Matches, MaxLength, ValidateBy } from 'class-validator';

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
      defaultMessage: () =>
        `where must map up to ${MAX_WHERE} column names to a string, number, boolean or null each`,
    },
  });
}

// Stacked decorators register bottom-up, so the type check at the bottom runs first.
export class SubscribeDto {
  @IsOptional()
  @Matches(EVENT_PATTERN, { each: true, message: 'events must hold event names such as invoices.created or prefixes such as invoices.*' })
  @MaxLength(200, { each: true })
  @IsString({ each: true })
  @ArrayMaxSize(50)
  @IsArray()
  events?: string[];

  @IsOptional()
  @Matches(TABLE_PATTERN, { each: true, message: 'tables must hold table names such as invoices or sales.orders' })
  @MaxLength(200, { each: true })
  @IsString({ each: true })
  @ArrayMaxSize(50)
  @IsArray()
  tables?: string[];

  @IsOptional()
  @IsColumnEqualities()
  where?: Record<string, string | number | boolean | null>;

  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'since must be a notification id (digits)' })
  @IsString({ message: 'since must be a notification id given as a string' })
  since?: string;
}

export class UnsubscribeDto {
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'subscriptionId must be an id returned by subscribe' })
  @IsString({ message: 'subscriptionId must be a string' })
  subscriptionId: string;
}
