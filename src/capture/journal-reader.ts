import pg from 'pg';
import type { JournalSource } from '../notifications/notification-log.js';

export type QueryRows = <R>(sql: string) => Promise<R[]>;

/**
 * Reads the journal in commit order, in bounded batches, on the drainer's own connection. A batch
 * is what committed between the drain cursor's snapshot and pg_current_snapshot() (PgQ's model):
 * no transaction can be in a batch before one that committed before it, and nothing can still
 * appear behind a snapshot once it is the cursor's, so nothing is skipped however late a
 * transaction with a low xid or low ids commits, and an open transaction holds nothing back.
 *
 * Inside a batch, a transaction's changes stay together, and transactions go in the order of
 * their last journal id. That is commit order wherever it matters: when T1 has to wait for T2's
 * row lock (the same row, or a row T2's foreign key check locked), T1 writes that row, and takes
 * its journal id, after T2 committed, so T1's last id is above all of T2's. Transactions that
 * touched no common row and committed within one batch may go either way. Ordering by xid would not
 * do: a transaction takes its xid at its first write, not at its conflicting one.
 *
 * The work is in SQL (capture.take_batch, which also drops journal rows of the wrong shape): one
 * statement per batch, plans cached by the session. Statements here are prepared (named) too.
 */
export class JournalReader {
  constructor(
    private readonly batchSize: number,
    /** Stored bytes of old + new per batch: huge rows make smaller batches (at least one row). */
    private readonly batchBytes: number,
  ) {}

  /** Whether anything waits to be drained: one cheap statement, no transaction. */
  async hasWork(client: pg.ClientBase): Promise<boolean> {
    const { rows } = await client.query<{ work: boolean }>({
      name: 'rowcast-has-work',
      // Two EXISTS, each a bounded index range on (tx, id). Without both bounds the planner
      // guesses a third of the journal matches and scans all of it (34 ms a look at 100,000 rows).
      text: `SELECT k.batch_txs IS NOT NULL
               OR EXISTS (SELECT 1 FROM capture.changes c
                          WHERE c.tx >= pg_snapshot_xmax(k.snapshot) AND c.tx < pg_snapshot_xmax(pg_current_snapshot())
                            AND pg_visible_in_snapshot(c.tx, pg_current_snapshot()))
               OR EXISTS (SELECT 1 FROM capture.changes c
                          WHERE c.tx >= pg_snapshot_xmin(k.snapshot) AND c.tx < pg_snapshot_xmax(k.snapshot)
                            AND c.tx = ANY (ARRAY(SELECT pg_snapshot_xip(k.snapshot)))
                            AND pg_visible_in_snapshot(c.tx, pg_current_snapshot())) AS work
             FROM capture.drain_cursor k WHERE k.id = 1`,
    });
    return rows[0].work;
  }

  /**
   * The next batch, in delivery order, as a statement for the log to run inside its append (one
   * statement: its rows and the cursor move past them commit together, or neither does).
   */
  nextBatch(): JournalSource {
    return { name: 'take-batch', text: 'SELECT * FROM capture.take_batch($1, $2)', values: [this.batchSize, this.batchBytes] };
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
