import type { Sql } from '../../database/sql.js';
import { aimedBackfills, type JournalRow } from '../journal-row.js';

/**
 * A journal row taken into the log; the first row also has the batch's first id (the rows' ids
 * follow on) and time, the others null (parsed once per batch, not per row).
 */
export interface AppendedRow extends JournalRow {
  first_id: string | null;
  batch_created_at: Date | null;
}

/**
 * Takes the journal's next batch and appends it to the log as one batch of ids, in one statement
 * (its own transaction): the batch is in the log exactly when the drain cursor has moved past it.
 * Returns the batch's journal rows in delivery order, the first with the batch's first id and time;
 * none when nothing committed.
 *
 * A batch (capture.take_batch, PgQ's model) is what committed between the drain cursor's snapshot
 * and pg_current_snapshot(): no transaction can be in a batch before one that committed before it,
 * and nothing can still appear behind a snapshot once it is the cursor's, so nothing is skipped
 * however late a transaction with a low xid or low ids commits, and an open transaction holds
 * nothing back. Inside a batch, a transaction's changes stay together, and transactions go in the
 * order of their last journal id. That is commit order wherever it matters: when T1 has to wait for
 * T2's row lock (the same row, or a row T2's foreign key check locked), T1 writes that row, and
 * takes its journal id, after T2 committed, so T1's last id is above all of T2's. Transactions that
 * touched no common row and committed within one batch may go either way. Ordering by xid would not
 * do: a transaction takes its xid at its first write, not at its conflicting one. take_batch also
 * drops journal rows of the wrong shape.
 *
 * The same statement adds the batch's table names to notification_tables (the names the log ever
 * held: TableCatalog reads them, not the journal) and records the highest journal id drained so far
 * in the batch's drained_through (the backlog's estimate reads it, not capture.undrained()). The
 * sinks a backfill's rows are aimed at are looked up once per backfill in the batch (aimedBackfills).
 *
 * The batch's ids follow the highest id given or deleted so far; every instance's tail hears of it
 * at commit by one NOTIFY on `channel` (the batch's last id), never one per writer.
 */
export function appendBatch(sql: Sql, limits: { rows: number; bytes: number }, channel: string): Promise<AppendedRow[]> {
  return sql<AppendedRow>(
    `WITH taken AS (SELECT s.*, row_number() OVER () AS ord FROM capture.take_batch($1, $2) s),
     newest AS (SELECT last_id, drained_through FROM notification_batches ORDER BY last_id DESC LIMIT 1),
     batch AS (
       INSERT INTO notification_batches (first_id, last_id, change_ids, drained_through)
       SELECT n.next, n.next + t.count - 1, t.ids,
              greatest(t.top, (SELECT drained_through FROM newest), (SELECT drained_through FROM notification_retention WHERE id = 1))
       FROM (SELECT count(*) AS count, array_agg(id ORDER BY ord) AS ids, max(id) AS top FROM taken) t,
            (SELECT greatest((SELECT last_id FROM newest), (SELECT max(id) FROM notifications_legacy),
                             (SELECT purged_through FROM notification_retention WHERE id = 1), 0) + 1 AS next) n
       WHERE t.count > 0
       RETURNING first_id, created_at, pg_notify($3, last_id::text)),
     named AS (
       INSERT INTO notification_tables (name)
       SELECT DISTINCT capture.qualified_name(t.schema_name, t.table_name) FROM taken t
       ON CONFLICT (name) DO NOTHING),
     ${aimedBackfills('taken')}
     SELECT t.id::text AS id, t.tx::text AS tx, t.schema_name, t.table_name, t.op, t.row_pk, t.old, t.new,
            t.changed_columns, t.actor, t.changed_at, t.backfill_id::text AS backfill_id, a.destinations,
            CASE WHEN t.ord = 1 THEN b.first_id::text END AS first_id, CASE WHEN t.ord = 1 THEN b.created_at END AS batch_created_at
     FROM taken t CROSS JOIN batch b LEFT JOIN aimed a ON a.backfill_id = t.backfill_id
     ORDER BY t.ord`,
    [limits.rows, limits.bytes, channel],
  );
}
