import { ValueTransformer } from 'typeorm';

/**
 * The largest total an invoice or an item may reach: 2^53 − 1, the largest integer a JSON client
 * (and a JavaScript number) holds exactly. The database refuses more (a CHECK on each table).
 */
export const MAX_TOTAL_AMOUNT = Number.MAX_SAFE_INTEGER;

/** The CHECK on total_amount, as both entities mirror the migration's. */
export const TOTAL_AMOUNT_RANGE = `total_amount BETWEEN 0 AND ${MAX_TOTAL_AMOUNT}`;

/**
 * Totals as numbers: pg returns bigint as a string, and totals are bounded to MAX_TOTAL_AMOUNT by
 * the CHECK constraints, so a JavaScript number holds every value exactly.
 */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
