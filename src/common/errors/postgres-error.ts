import { QueryFailedError } from 'typeorm';

/** The fields of a PostgreSQL error that callers branch on. */
export interface PostgresErrorInfo {
  code: string;
  constraint?: string;
}

export const PG = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  notNullViolation: '23502',
  checkViolation: '23514',
  numericOutOfRange: '22003',
  characterNotInRepertoire: '22021',
  untranslatableCharacter: '22P05',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  // RAISE'd by consumer_receive and consumer_settle for a group that does not exist.
  noDataFound: 'P0002',
} as const;

export function postgresError(error: unknown): PostgresErrorInfo | undefined {
  const driverError = error instanceof QueryFailedError ? error.driverError : error;
  if (typeof driverError !== 'object' || driverError === null) return undefined;
  const { code, constraint } = driverError as { code?: unknown; constraint?: unknown };
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  return { code, constraint: typeof constraint === 'string' ? constraint : undefined };
}
