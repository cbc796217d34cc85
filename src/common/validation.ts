import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsNotEmpty, IsString, IsUUID, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';

interface FieldOptions {
  /** Absent is allowed; an explicit null is not (it would write NULL). */
  optional?: boolean;
  description?: string;
  example?: unknown;
}

/**
 * Composite validators pair each rule with its OpenAPI description. class-validator runs a
 * property's rules in the order they were registered and the pipe stops at the first failure,
 * so the type check comes first and a wrong type is reported as such, not as out of range.
 */
export function IntField(options: FieldOptions & { min: number; max: number }): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      type: 'integer',
      minimum: options.min,
      maximum: options.max,
      required: !options.optional,
      description: options.description,
      example: options.example,
    }),
    ...presence(options),
    IsInt(),
    Min(options.min),
    Max(options.max),
  );
}

/** No control characters (NUL cannot be stored at all), no lone surrogates (not Unicode). */
export const PRINTABLE = /^[^\p{Cc}\p{Cs}]*$/u;

/** A trimmed, non-empty string of printable, well-formed Unicode. */
export function TextField(options: FieldOptions & { maxLength: number }): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      type: 'string',
      minLength: 1,
      maxLength: options.maxLength,
      required: !options.optional,
      description: options.description,
      example: options.example,
    }),
    Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value)),
    ...presence(options),
    IsString(),
    IsNotEmpty(),
    MaxLength(options.maxLength),
    Matches(PRINTABLE, { message: '$property must not contain control characters or invalid Unicode' }),
  );
}

export function UuidField(options: FieldOptions = {}): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ type: 'string', format: 'uuid', required: !options.optional, description: options.description }),
    ...presence(options),
    IsUUID('all'),
  );
}

function presence(options: FieldOptions): PropertyDecorator[] {
  return options.optional ? [ValidateIf((_object: object, value: unknown) => value !== undefined)] : [];
}
