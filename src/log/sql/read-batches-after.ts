import type { Sql } from '../../database/sql.js';
import { withBackfillDestinations, type JournalRow } from '../journal-row.js';
import { filterClause, filterValues, LogFilter } from '../log-filter.js';

/** A notification of a batch: its id and batch time, and the journal row that is its one stored copy. */
export interface BatchedRow extends Omit<JournalRow, 'id'> {
  id: string;
  created_at: Date;
  change_id: string;
}

/**
 * Up to `limit` notifications with ids in (after, upTo] that pass `filter`, ascending, from the
 * batches up to the one whose last id is `lastBatch` (batchBoundsAfter's window). Only the slice of
 * each batch's ids that falls in the window is unnested and looked up: a batch can hold many
 * thousand ids (the upgrade's first one: every change pending then).
 */
export function readBatchesAfter(
  sql: Sql,
  window: { after: bigint; upTo: bigint; lastBatch: bigint },
  limit: number,
  filter: LogFilter,
): Promise<BatchedRow[]> {
  return sql<BatchedRow>(
    withBackfillDestinations(`SELECT (b.first_id + s.lo + u.ord - 2)::text AS id, b.created_at, c.id::text AS change_id, c.tx::text AS tx,
            c.schema_name, c.table_name, c.op, c.row_pk, c.old, c.new, c.changed_columns, c.actor, c.changed_at, c.backfill_id::text AS backfill_id
     FROM notification_batches b
     CROSS JOIN LATERAL (SELECT greatest(1, $1 - b.first_id + 2)::int AS lo, least(cardinality(b.change_ids), $3 - b.first_id + 1)::int AS hi) s
     CROSS JOIN LATERAL unnest(b.change_ids[s.lo:s.hi]) WITH ORDINALITY AS u(change_id, ord)
     -- One index lookup per id, always: OFFSET 0 keeps the planner from hashing the journal.
     CROSS JOIN LATERAL (SELECT * FROM capture.changes c WHERE c.id = u.change_id OFFSET 0) c
     WHERE b.last_id > $1 AND b.last_id <= $4
       AND ${filterClause(5)}
     ORDER BY b.last_id, u.ord LIMIT $2`),
    [window.after.toString(), limit, window.upTo.toString(), window.lastBatch.toString(), ...filterValues(filter)],
  );
}
