import type { Sql } from '../../database/sql.js';
import { withBackfillDestinations } from '../journal-row.js';
import { filterClause, filterValues, LogFilter } from '../log-filter.js';
import type { BatchedRow } from './read-batches-after.js';

/** The notifications `ids` that pass `filter`, ascending: for each, the batch holding it and its journal row. */
export function readIds(sql: Sql, ids: readonly bigint[], filter: LogFilter): Promise<BatchedRow[]> {
  return sql<BatchedRow>(
    withBackfillDestinations(`SELECT x.id::text AS id, b.created_at, c.id::text AS change_id, c.tx::text AS tx,
            c.schema_name, c.table_name, c.op, c.row_pk, c.old, c.new, c.changed_columns, c.actor, c.changed_at, c.backfill_id::text AS backfill_id
     FROM unnest($1::bigint[]) x(id)
     CROSS JOIN LATERAL (SELECT * FROM notification_batches b WHERE b.last_id >= x.id ORDER BY b.last_id LIMIT 1) b
     CROSS JOIN LATERAL (SELECT * FROM capture.changes c WHERE c.id = b.change_ids[x.id - b.first_id + 1] OFFSET 0) c
     WHERE b.first_id <= x.id
       AND ${filterClause(2)}
     ORDER BY x.id`),
    [ids.map(String), ...filterValues(filter)],
  );
}
