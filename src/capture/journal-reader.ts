import pg from 'pg';
import { JournalRow } from './change.parser.js';

export type QueryRows = <R>(sql: string) => Promise<R[]>;

export interface JournalBatch {
  rows: JournalRow[];
  /** Transactions read to their end: their pending marks go when the batch commits. */
  completed: string[];
  /** Where the drain stands inside a transaction it has not finished, if any... */
  cursor: Cursor;
  /** ...and where it stood before this batch. */
  from: Cursor;
}

interface Cursor {
  tx: string | null;
  lastChangeId: string;
}

/**
 * Reads the journal in commit order, in bounded batches. Every query runs on the drainer's own
 * connection inside its open transaction.
 *
 * Which transactions are safe to take: those below the watermark pg_snapshot_xmin (every one of
 * them has finished, so none can still appear behind it), and of those only the ones whose commit
 * number is smaller than that of any committed transaction still above the watermark. Without the
 * second rule, a transaction with a low xid that committed after a conflicting one with a high xid
 * could be taken first while an unrelated open transaction pins the watermark between them.
 * Progress is the set of pending transactions, not "seq > last", so a transaction that commits
 * late with a low number is never skipped.
 */
export class JournalReader {
  constructor(
    private readonly batchSize: number,
    /** Stored bytes of old + new per batch: huge rows make smaller batches (at least one row). */
    private readonly batchBytes: number,
  ) {}

  async read(client: pg.Client): Promise<JournalBatch> {
    // First statement of the transaction, before it has an xid of its own (which would hold the
    // watermark back).
    const ready = await client.query<{ tx: string }>(
      `SELECT p.tx::text AS tx
       FROM capture.pending p,
            LATERAL (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) w
       WHERE p.tx < w.xmin
         AND p.seq < coalesce((SELECT min(q.seq) FROM capture.pending q WHERE q.tx >= w.xmin), 9223372036854775807)
       ORDER BY p.seq
       LIMIT $1`,
      [this.batchSize],
    );
    // FOR UPDATE fences a second drainer that lost track of the advisory lock.
    const cursorRow = await client.query<{ tx: string | null; last_change_id: string }>(
      `SELECT tx::text AS tx, last_change_id::text AS last_change_id FROM capture.cursor WHERE id = 1 FOR UPDATE`,
    );
    const current = cursorRow.rows[0] ?? { tx: null, last_change_id: '0' };
    const from: Cursor = { tx: current.tx, lastChangeId: current.last_change_id };
    const txs = ready.rows.map((row) => row.tx);
    if (current.tx !== null) {
      // Finish the transaction in progress first (it is still pending, so still ready).
      const index = txs.indexOf(current.tx);
      if (index > 0) txs.splice(index, 1);
      if (index !== 0) txs.unshift(current.tx);
    }
    if (txs.length === 0) return { rows: [], completed: [], cursor: from, from };

    const { rows } = await client.query<JournalRow & { candidates: string }>(
      `SELECT id::text AS id, tx::text AS tx, schema_name, table_name, op, row_pk, old, new,
              changed_columns, actor, changed_at, candidates
       FROM (
         SELECT s.*, sum(s.size) OVER (ORDER BY s.ord, s.id) AS running, count(*) OVER () AS candidates
         FROM (
           SELECT c.*, r.ord, coalesce(pg_column_size(c.old), 0) + coalesce(pg_column_size(c.new), 0) AS size
           FROM unnest($1::xid8[]) WITH ORDINALITY AS r(tx, ord)
           CROSS JOIN LATERAL (
             SELECT * FROM capture.changes c
             WHERE c.tx = r.tx AND c.id > CASE WHEN r.tx = $2::xid8 THEN $3::bigint ELSE 0 END
             ORDER BY c.id
             LIMIT $4
           ) c
           ORDER BY r.ord, c.id
           LIMIT $4
         ) s
       ) w
       WHERE w.running - w.size < $5
       ORDER BY w.ord, w.id`,
      [txs, current.tx, current.last_change_id, this.batchSize, this.batchBytes],
    );
    const cut = rows.length > 0 && rows.length < Number(rows[0].candidates); // by the byte budget
    if (rows.length < this.batchSize && !cut) {
      return { rows, completed: txs, cursor: { tx: null, lastChangeId: '0' }, from };
    }
    const last = rows[rows.length - 1];
    return {
      rows,
      completed: txs.slice(0, txs.indexOf(last.tx)),
      cursor: { tx: last.tx, lastChangeId: last.id },
      from,
    };
  }

  /** Moves the cursor past the batch; commits with whatever the handlers wrote. */
  async advance(client: pg.Client, batch: JournalBatch): Promise<void> {
    if (batch.completed.length) {
      await client.query(`DELETE FROM capture.pending WHERE tx = ANY($1::xid8[])`, [batch.completed]);
    }
    const unchanged = batch.cursor.tx === batch.from.tx && batch.cursor.lastChangeId === batch.from.lastChangeId;
    if (unchanged) return; // the common case: whole transactions, no partial one before or after
    await client.query(
      `UPDATE capture.cursor SET tx = $1::xid8, last_change_id = $2, updated_at = now() WHERE id = 1`,
      [batch.cursor.tx, batch.cursor.lastChangeId],
    );
  }

  /** Undrained journal rows and the age of the oldest, for /health. */
  async backlog(query: QueryRows): Promise<{ backlog: number; lagMs: number }> {
    const rows = await query<{ backlog: string; lag_ms: string | null }>(
      `SELECT count(*) AS backlog,
              round(extract(epoch FROM clock_timestamp() - min(c.changed_at)) * 1000) AS lag_ms
       FROM capture.pending p
       JOIN capture.changes c ON c.tx = p.tx
       LEFT JOIN capture.cursor k ON k.id = 1 AND k.tx = p.tx
       WHERE k.tx IS NULL OR c.id > k.last_change_id`,
    );
    return { backlog: Number(rows[0].backlog), lagMs: Math.max(0, Number(rows[0].lag_ms ?? 0)) };
  }
}
