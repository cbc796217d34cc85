/**
 * The largest total an invoice or an item may reach: 2^53 − 1, the largest integer a JSON client
 * (and a JavaScript number) holds exactly. The database refuses more (a CHECK on each table).
 */
export const MAX_TOTAL_AMOUNT = Number.MAX_SAFE_INTEGER;

/** The CHECK on total_amount, as both entities mirror the migration's. */
export const TOTAL_AMOUNT_RANGE = `total_amount BETWEEN 0 AND ${MAX_TOTAL_AMOUNT}`;
