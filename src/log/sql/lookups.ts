import type { Sql } from '../../database/sql.js';

/** What the log's index holds (notification_lookups): the built-in keys (no table and column), or a table's column. */
export interface Lookup {
  table: string | null;
  column: string | null;
  /** Every notification above this id is indexed; undefined until the first batch that saw the lookup. */
  coveredAfter: bigint | undefined;
}

export async function lookups(sql: Sql): Promise<Lookup[]> {
  const rows = await sql<{ table_name: string | null; column_name: string | null; covered_after: string | null }>(
    `SELECT table_name, column_name, covered_after::text AS covered_after FROM notification_lookups`,
  );
  return rows.map((row) => ({
    table: row.table_name,
    column: row.column_name,
    coveredAfter: row.covered_after === null ? undefined : BigInt(row.covered_after),
  }));
}
