import type { Sql } from '../../database/sql.js';

/**
 * Every table the log has held changes of, as notifications name it (`invoices`, `sales.orders`):
 * notification_tables, which the drainer extends with each batch. One row per table, never a read
 * of the journal.
 */
export async function loggedTables(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }>(`SELECT name FROM notification_tables`);
  return rows.map((row) => row.name);
}
