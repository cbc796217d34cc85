import type { Sql } from '../../database/sql.js';

/** Every table the log holds changes of, as notifications name it (`invoices`, `sales.orders`). */
export async function loggedTables(sql: Sql): Promise<string[]> {
  const rows = await sql<{ name: string }>(
    `SELECT DISTINCT capture.qualified_name(schema_name, table_name) AS name FROM capture.changes
     UNION SELECT DISTINCT table_name FROM notifications_legacy`,
  );
  return rows.map((row) => row.name);
}
