import { plainToInstance } from 'class-transformer';
import { validate, ValidationError } from 'class-validator';

/**
 * Validates a message that does not come through HTTP (a WebSocket payload) with the same rules
 * as the global ValidationPipe: unknown fields refused, first failure per field, fields named.
 */
export async function validateMessage<T extends object>(
  type: new () => T,
  payload: unknown,
): Promise<{ value: T } | { error: string }> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { error: 'the message must be a JSON object' };
  }
  const value = plainToInstance(type, payload);
  const errors = await validate(value, { whitelist: true, forbidNonWhitelisted: true, stopAtFirstError: true });
  return errors.length ? { error: messages(errors).join('; ') } : { value };
}

function messages(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) =>
      parent ? `${parent}.${message}` : message,
    );
    return [...own, ...messages(error.children ?? [], path)];
  });
}
