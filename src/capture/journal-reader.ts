import pg from 'pg';
import { JOURNAL_COLUMNS, JournalRow } from '../events/journal-row.js';

export type QueryRows = <R>(sql: string) => Promise<R[]>;

/** Where the drain stands (capture.drain_cursor). */
export interface DrainCursor {
  /** Every transaction visible in this snapshot has been drained, but for the batch below. */
  snapshot: string;
  /** A batch drained in several transactions: its upper snapshot... */
  batchSnapshot: string | null;
  /** ...and its transactions not finished yet, in order; the first is drained up to lastChangeId. */
  batchTxs: string[] | null;
  lastChangeId: string;
}

export interface JournalBatch {
  /** In delivery order. */
  rows: JournalRow[];
  /** The cursor once this batch has committed. */
  next: DrainCursor;
}

/** Journal rows `c` of a batch: not visible in the lower snapshot, visible in the upper one. */
const inBatch = (lower: string, upper: string) =>
  `(c.tx = ANY (ARRAY(SELECT pg_snapshot_xip(${lower}))) OR c.tx >= pg_snapshot_xmax(${lower}))
   AND c.tx < pg_snapshot_xmax(${upper}) AND pg_visible_in_snapshot(c.tx, ${upper})`;

/**
 * Reads the journal in commit order, in bounded batches, on the drainer's own connection inside
 * its open transaction. A batch is what committed between the cursor's snapshot and
 * pg_current_snapshot() (PgQ's model): no transaction can be in a batch before one that committed
 * before it, and nothing can still appear behind a snapshot once it is the cursor's, so nothing
 * is skipped however late a transaction with a low xid or low ids commits.
 *
 * Inside a batch, a transaction's changes stay together, and transactions go in the order of
 * their last journal id. That is commit order wherever it matters: when T1 has to wait for T2's
 * row lock, T1 writes that row (and takes its journal id) after T2 committed, so T1's last id is
 * above all of T2's. Transactions that touched no common row may go either way. Ordering by xid
 * would not do: a transaction takes its xid at its first write, not at its conflicting one.
 */
export class JournalReader {
  constructor(
    private readonly batchSize: number,
    /** Stored bytes of old + new per batch: huge rows make smaller batches (at least one row). */
    private readonly batchBytes: number,
  ) {}

  async cursor(client: pg.ClientBase): Promise<DrainCursor> {
    const { rows } = await client.query<CursorRow>(`SELECT ${CURSOR_COLUMNS} FROM capture.drain_cursor WHERE id = 1`);
    return fromCursorRow(rows[0]);
  }

  /** Whether anything committed after `cursor` (one cheap statement, outside a transaction). */
  async hasWork(client: pg.ClientBase, cursor: DrainCursor): Promise<boolean> {
    if (cursor.batchTxs) return true;
    const { rows } = await client.query<{ work: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM capture.changes c WHERE ${inBatch('$1::pg_snapshot', 's.now')}) AS work
       FROM (SELECT pg_current_snapshot() AS now) s`,
      [cursor.snapshot],
    );
    return rows[0].work;
  }

  /** The next batch; no rows when nothing committed since the cursor. */
  async read(client: pg.ClientBase): Promise<JournalBatch> {
    // FOR UPDATE fences a second drainer that lost track of the advisory lock.
    const { rows: cursorRows } = await client.query<CursorRow & { now: string }>(
      `SELECT ${CURSOR_COLUMNS}, pg_current_snapshot()::text AS now FROM capture.drain_cursor WHERE id = 1 FOR UPDATE`,
    );
    const from = fromCursorRow(cursorRows[0]);
    let batch: { snapshot: string; txs: string[]; lastChangeId: string };
    if (from.batchSnapshot && from.batchTxs) {
      batch = { snapshot: from.batchSnapshot, txs: from.batchTxs, lastChangeId: from.lastChangeId };
    } else {
      const upper = cursorRows[0].now;
      const { rows } = await client.query<{ tx: string }>(
        `SELECT c.tx::text AS tx FROM capture.changes c WHERE ${inBatch('$1::pg_snapshot', '$2::pg_snapshot')}
         GROUP BY c.tx ORDER BY max(c.id)`,
        [from.snapshot, upper],
      );
      if (rows.length === 0) return { rows: [], next: from };
      batch = { snapshot: upper, txs: rows.map((row) => row.tx), lastChangeId: '0' };
    }

    const { rows } = await client.query<JournalRow & { candidates: string }>(
      `SELECT ${JOURNAL_COLUMNS.replaceAll('c.', 'w.')}, w.candidates
       FROM (
         SELECT s.*, sum(s.size) OVER (ORDER BY s.ord, s.id) AS running, count(*) OVER () AS candidates
         FROM (
           SELECT c.*, r.ord, coalesce(pg_column_size(c.old), 0) + coalesce(pg_column_size(c.new), 0) AS size
           FROM unnest($1::xid8[]) WITH ORDINALITY AS r(tx, ord)
           CROSS JOIN LATERAL (
             SELECT * FROM capture.changes c
             WHERE c.tx = r.tx AND c.id > CASE WHEN r.ord = 1 THEN $2::bigint ELSE 0 END
             ORDER BY c.id
             LIMIT $3
           ) c
           ORDER BY r.ord, c.id
           LIMIT $3
         ) s
       ) w
       WHERE w.running - w.size < $4
       ORDER BY w.ord, w.id`,
      [batch.txs, batch.lastChangeId, this.batchSize, this.batchBytes],
    );
    const cut = rows.length > 0 && rows.length < Number(rows[0].candidates); // by the byte budget
    if (rows.length < this.batchSize && !cut) {
      return { rows, next: { snapshot: batch.snapshot, batchSnapshot: null, batchTxs: null, lastChangeId: '0' } };
    }
    const last = rows[rows.length - 1];
    return {
      rows,
      next: {
        snapshot: from.snapshot,
        batchSnapshot: batch.snapshot,
        batchTxs: batch.txs.slice(batch.txs.indexOf(last.tx)),
        lastChangeId: last.id,
      },
    };
  }

  /** Moves the cursor past the batch; commits with whatever the log wrote. */
  async advance(client: pg.ClientBase, next: DrainCursor): Promise<void> {
    await client.query(
      `UPDATE capture.drain_cursor
       SET snapshot = $1::pg_snapshot, batch_snapshot = $2::pg_snapshot, batch_txs = $3::xid8[], last_change_id = $4, updated_at = now()
       WHERE id = 1`,
      [next.snapshot, next.batchSnapshot, next.batchTxs, next.lastChangeId],
    );
  }

  /** Journal rows that are not changes (written by hand, malformed): dropped once skipped. */
  async discard(client: pg.ClientBase, ids: string[]): Promise<void> {
    if (ids.length) await client.query(`DELETE FROM capture.changes WHERE id = ANY($1::bigint[])`, [ids]);
  }

  /** Undrained journal rows and the age of the oldest, for /health and /metrics. */
  async backlog(query: QueryRows): Promise<{ backlog: number; lagMs: number }> {
    const rows = await query<{ backlog: string; lag_ms: string | null }>(
      `SELECT count(*) AS backlog, round(extract(epoch FROM clock_timestamp() - min(c.changed_at)) * 1000) AS lag_ms
       FROM capture.undrained() c`,
    );
    return { backlog: Number(rows[0].backlog), lagMs: Math.max(0, Number(rows[0].lag_ms ?? 0)) };
  }
}

const CURSOR_COLUMNS = `snapshot::text AS snapshot, batch_snapshot::text AS batch_snapshot,
  batch_txs::text[] AS batch_txs, last_change_id::text AS last_change_id`;

interface CursorRow {
  snapshot: string;
  batch_snapshot: string | null;
  batch_txs: string[] | null;
  last_change_id: string;
}

function fromCursorRow(row: CursorRow): DrainCursor {
  return { snapshot: row.snapshot, batchSnapshot: row.batch_snapshot, batchTxs: row.batch_txs, lastChangeId: row.last_change_id };
}
