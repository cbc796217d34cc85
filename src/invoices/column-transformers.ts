import { ValueTransformer } from 'typeorm';

/**
 * pg returns bigint as a string. Totals are bounded to MAX_TOTAL_AMOUNT (2^53 − 1) by CHECK
 * constraints, so a JavaScript number holds every value exactly.
 */
export const bigintToNumber: ValueTransformer = {
  to: (value: number | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
