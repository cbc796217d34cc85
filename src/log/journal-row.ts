import { BACKFILL_OPERATIONS, OPERATIONS, type SchemaChange } from '../../client/src/protocol.js';
import { CapturedChange, ChangeOp } from '../events/captured-change.event.js';

/** A journal row (capture.changes) as the log's statements select it (./sql/). */
export interface JournalRow {
  id: string;
  tx: string;
  schema_name: unknown;
  table_name: unknown;
  op: unknown;
  row_pk: unknown;
  old: unknown;
  new: unknown;
  changed_columns: unknown;
  actor: unknown;
  changed_at: unknown;
  /** The backfill a READ row or a backfill's own event comes from (as text); null for every other op. */
  backfill_id: unknown;
  /** That backfill's destinations (sink ids), when it is aimed at some: backfillDestinations. */
  destinations?: unknown;
}

/**
 * The select-list entry for JournalRow.destinations of a journal row `alias`: the sinks its backfill
 * is aimed at, looked up only for a backfill's rows (the function is STRICT: NULL for every live change).
 * One call per row: for a statement that returns one row. Many rows: aimedBackfills.
 */
export const backfillDestinations = (alias: string) => `capture.backfill_destinations(${alias}.backfill_id) AS destinations`;

/**
 * A WITH entry `aimed(backfill_id, destinations)` (backfill_id as `rows` has it): the sinks each
 * backfill among the rows of `rows` (a CTE with a backfill_id column) is aimed at, looked up once per
 * backfill. A call per row in the select list (backfillDestinations) is a function call per read:
 * it was a quarter of the statement that drains a backfill's reads. MATERIALIZED: else the planner
 * pulls the entry up into the statement that joins it, and calls the function in that statement's
 * select list, once per row after all (pg_stat_statements: 200,002 calls for 200,000 reads).
 */
export const aimedBackfills = (rows: string) =>
  `aimed AS MATERIALIZED (SELECT x.backfill_id, capture.backfill_destinations(x.backfill_id::bigint) AS destinations
             FROM (SELECT DISTINCT r.backfill_id FROM ${rows} r WHERE r.backfill_id IS NOT NULL) x)`;

/**
 * `query` (a SELECT of JournalRow's columns but destinations, `id` a notification id as text) with
 * destinations (aimedBackfills), ascending by id.
 */
export const withBackfillDestinations = (query: string) =>
  `WITH picked AS MATERIALIZED (${query}),
   ${aimedBackfills('picked')}
   SELECT p.*, a.destinations FROM picked p LEFT JOIN aimed a ON a.backfill_id = p.backfill_id ORDER BY p.id::bigint`;

export type ParsedRow = { change: CapturedChange } | { skip: string };

const OPS = new Set<string>(OPERATIONS);
const BACKFILL_OPS = new Set<string>(BACKFILL_OPERATIONS);

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isShape = (value: unknown): boolean =>
  isObject(value) &&
  typeof value.schema === 'string' &&
  typeof value.table === 'string' &&
  (value.key === null || Array.isArray(value.key)) &&
  Array.isArray(value.columns);

/** capture.follow()'s {command, before, after}: after is null when the table was dropped. */
function isSchemaChange(value: Record<string, unknown> | null): value is Record<string, unknown> & SchemaChange {
  return value !== null && typeof value.command === 'string' && isShape(value.before) && (value.after === null || isShape(value.after));
}

/**
 * Checks a journal row before it becomes an event, and computes what the writer no longer does:
 * the changed columns of an update (rows written before issue 10 carry them). The journal is an
 * ordinary table that anyone with SQL access can write to; a row that does not have the shape the
 * capture trigger writes is skipped with the reason, never allowed to stop the drain.
 */
export function parseJournalRow(row: JournalRow): ParsedRow {
  const { schema_name: schema, table_name: table, op, row_pk: pk, actor, changed_at: changedAt } = row;
  if (typeof schema !== 'string' || !schema || typeof table !== 'string' || !table) {
    return { skip: 'schema_name or table_name is empty' };
  }
  if (typeof op !== 'string' || !OPS.has(op)) return { skip: `unknown op ${JSON.stringify(op)}` };
  const newRow = row.new === null ? null : isObject(row.new) ? row.new : undefined;
  const oldRow = row.old === null ? null : isObject(row.old) ? row.old : undefined;
  if (newRow === undefined || oldRow === undefined) return { skip: 'old or new is not an object' };
  let key: Record<string, unknown> | null = null;
  let schemaChange: SchemaChange | undefined;
  if (op === 'TRUNCATE') {
    if (newRow !== null || oldRow !== null) return { skip: 'old and new must be null for TRUNCATE' };
  } else if (op === 'SCHEMA_CHANGE') {
    if (oldRow !== null || !isSchemaChange(newRow)) return { skip: 'new must be {command, before, after} for SCHEMA_CHANGE' };
    schemaChange = newRow;
  } else if (op === 'READ' || BACKFILL_OPS.has(op)) {
    if (op === 'READ' && (!isObject(pk) || Object.keys(pk).length === 0)) return { skip: 'row_pk is not a non-empty object' };
    if (op !== 'READ' && pk !== null) return { skip: `row_pk must be null for ${op}` };
    if (newRow === null || oldRow !== null) return { skip: `new must be set and old null for ${op}` };
    if (typeof row.backfill_id !== 'string' || !row.backfill_id) return { skip: `backfill_id is missing for ${op}` };
    key = op === 'READ' ? (pk as Record<string, unknown>) : null;
  } else {
    if (!isObject(pk) || Object.keys(pk).length === 0) return { skip: 'row_pk is not a non-empty object' };
    if ((op !== 'DELETE') !== (newRow !== null)) return { skip: `new must be ${op === 'DELETE' ? 'null' : 'set'} for ${op}` };
    if (op === 'INSERT' && oldRow !== null) return { skip: 'old must be null for INSERT' };
    key = pk;
  }
  const changed = row.changed_columns;
  if (changed !== null && !(Array.isArray(changed) && changed.every((column) => typeof column === 'string'))) {
    return { skip: 'changed_columns is not a list of names' };
  }
  if (typeof actor !== 'string') return { skip: 'actor is missing' };
  if (!(changedAt instanceof Date) || Number.isNaN(changedAt.getTime())) return { skip: 'changed_at is not a time' };
  return {
    change: new CapturedChange(
      row.id,
      row.tx,
      schema,
      table,
      op as ChangeOp,
      key,
      schemaChange ? null : newRow,
      oldRow,
      // Without the old row (a table captured without it) the changed columns are not known.
      (changed as string[] | null) ?? (op === 'UPDATE' && oldRow ? changedColumns(oldRow, newRow!) : null),
      actor,
      changedAt,
      schemaChange,
      op === 'READ' || BACKFILL_OPS.has(op) ? (row.backfill_id as string) : undefined,
      isDestinations(row.destinations) ? row.destinations : undefined,
    ),
  };
}

const isDestinations = (value: unknown): value is string[] =>
  Array.isArray(value) && value.length > 0 && value.every((id) => typeof id === 'string');

/**
 * Columns of `newRow` whose value differs from `oldRow`'s, in code-point order (as
 * capture.payload() lists them with COLLATE "C"). Values are compared as JSON; jsonb writes object
 * keys in one canonical order, so equal values print alike.
 */
export function changedColumns(oldRow: Record<string, unknown>, newRow: Record<string, unknown>): string[] {
  return Object.keys(newRow)
    .filter((column) => !(column in oldRow) || JSON.stringify(newRow[column]) !== JSON.stringify(oldRow[column]))
    .sort();
}
