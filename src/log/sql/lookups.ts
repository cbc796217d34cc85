import type { Sql } from '../../database/sql.js';
import { LOG_START } from './extend-lookup.js';

/** What the log's index holds (notification_lookups): the built-in keys (no table and column), or a table's column. */
export interface Lookup {
  table: string | null;
  column: string | null;
  /** Every notification in (coveredAfter, indexedThrough] is indexed; both undefined until the indexer starts it. */
  coveredAfter: bigint | undefined;
  indexedThrough: bigint | undefined;
}

export async function lookups(sql: Sql): Promise<Lookup[]> {
  const rows = await sql<{ table_name: string | null; column_name: string | null; covered_after: string | null; indexed_through: string | null }>(
    `SELECT table_name, column_name, covered_after::text AS covered_after, indexed_through::text AS indexed_through FROM notification_lookups`,
  );
  const id = (text: string | null) => (text === null ? undefined : BigInt(text));
  return rows.map((row) => ({
    table: row.table_name,
    column: row.column_name,
    coveredAfter: id(row.covered_after),
    indexedThrough: id(row.indexed_through),
  }));
}

/** The column lookups users chose, each with whether it covers the whole log yet. */
export async function columnLookups(sql: Sql): Promise<{ table: string; column: string; complete: boolean }[]> {
  return sql<{ table: string; column: string; complete: boolean }>(
    `SELECT l.table_name AS table, l.column_name AS column,
            coalesce(l.covered_after <= ${LOG_START}, false) AS complete
     FROM notification_lookups l WHERE l.table_name IS NOT NULL ORDER BY 1, 2`,
  );
}

/** Starts a lookup by `column` of `table` (as the log names it): the indexer begins it. False if it exists. */
export async function addLookup(sql: Sql, table: string, column: string): Promise<boolean> {
  const added = await sql(
    'INSERT INTO notification_lookups (table_name, column_name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1',
    [table, column],
  );
  return added.length > 0;
}

/** Ends a lookup; its entries go with retention. False if there was none. */
export async function dropLookup(sql: Sql, table: string, column: string): Promise<boolean> {
  const gone = await sql('DELETE FROM notification_lookups WHERE table_name = $1 AND column_name = $2 RETURNING 1', [table, column]);
  return gone.length > 0;
}
