import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { expectExactlyOnce, notifications } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

const ROWS = 40_000;
const WRITERS = 4;

type Row = { id: number; v: number; note: string };

/**
 * Applies the log in order as a consumer would (reads and creations as upserts, updates moving the
 * row, deletions removing it), checking each event against what the consumer holds when it comes:
 * a read must show every change before it (its row is what the consumer holds, if it holds one), an
 * update must start from what the consumer holds (so no read before it already contained it).
 */
function applyInOrder(log: { event: string; payload: { op: string; pk: { id: number }; new: Row | null; old: Row | null } }[]) {
  const state = new Map<number, Row>();
  const problems: string[] = [];
  let backfill: 'before' | 'running' | 'completed' = 'before';
  for (const [position, { payload }] of log.entries()) {
    const { op, pk } = payload;
    // The backfill's own events come before its first read and after its last.
    if (op === 'BACKFILL_STARTED' || op === 'BACKFILL_COMPLETED') {
      if (backfill !== (op === 'BACKFILL_STARTED' ? 'before' : 'running')) problems.push(`#${position} ${op} while ${backfill}`);
      backfill = op === 'BACKFILL_STARTED' ? 'running' : 'completed';
      continue;
    }
    const held = state.get(pk.id);
    if (op === 'READ') {
      if (backfill !== 'running') problems.push(`#${position} read of ${pk.id} ${backfill === 'before' ? 'before the backfill started' : 'after it completed'}`);
      if (held && JSON.stringify(held) !== JSON.stringify(payload.new)) problems.push(`#${position} read of ${pk.id} ${JSON.stringify(payload.new)} after ${JSON.stringify(held)}`);
      state.set(pk.id, payload.new!);
    } else if (op === 'INSERT') {
      state.set(pk.id, payload.new!);
    } else if (op === 'UPDATE') {
      if (held && JSON.stringify(held) !== JSON.stringify(payload.old)) problems.push(`#${position} update of ${pk.id} from ${JSON.stringify(payload.old)} while holding ${JSON.stringify(held)}`);
      state.set(pk.id, payload.new!);
    } else if (op === 'DELETE') {
      state.delete(pk.id);
    }
  }
  if (backfill !== 'completed') problems.push(`the log ends with the backfill ${backfill}`);
  return { state, problems };
}

/**
 * The randomized interleaving test: writers update, delete and insert rows of a table while
 * it is backfilled by the app's runner; the log, applied in order, gives exactly the table, and each
 * row that existed at start and was not deleted before its chunk was read exactly once.
 */
describe('a backfill under concurrent writers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    // Rows from before capture: the log knows them only through the backfill.
    await t.db.sql.query(`CREATE TABLE stock (id int PRIMARY KEY, v int NOT NULL, note text NOT NULL)`);
    await t.db.sql.query(`INSERT INTO stock SELECT g, 0, 'start' FROM generate_series(1, ${ROWS}) g`);
    await t.db.sql.query(`SELECT capture.enable('stock')`);
  });
  afterAll(() => t.close());

  it('gives a consumer of the log exactly the table, each row read once and in its place', async () => {
    const writers = new pg.Pool({ connectionString: t.db.url, max: WRITERS });
    let writing = true;
    let transactions = 0;
    const random = (n: number) => Math.floor(Math.random() * n);
    const write = async (writer: number) => {
      let fresh = ROWS + writer * 1_000_000;
      while (writing) {
        const client = await writers.connect();
        try {
          await client.query('BEGIN');
          for (let statement = 1 + random(3); statement > 0; statement--) {
            const kind = random(10);
            if (kind < 6) {
              // Rows spread over the table (in order, so writers do not deadlock each other).
              const ids = Array.from({ length: 1 + random(4) }, () => 1 + random(ROWS)).sort((a, b) => a - b);
              await client.query(`UPDATE stock SET v = v + 1, note = $2 WHERE id = ANY ($1)`, [ids, `w${writer}`]);
            } else if (kind < 8) {
              await client.query(`DELETE FROM stock WHERE id = $1`, [1 + random(ROWS)]);
            } else if (kind < 9) {
              await client.query(`INSERT INTO stock VALUES ($1, 0, 'new') ON CONFLICT (id) DO NOTHING`, [1 + random(ROWS)]);
            } else {
              await client.query(`INSERT INTO stock VALUES ($1, 0, 'fresh')`, [++fresh]);
            }
          }
          await client.query('COMMIT');
          transactions++;
        } catch (error) {
          await client.query('ROLLBACK');
          // Writers and the chunks lock rows in different orders: a deadlock ends one, as in life.
          if ((error as { code?: string }).code !== '40P01') throw error;
        } finally {
          client.release();
        }
      }
    };
    const running = Array.from({ length: WRITERS }, (_, writer) => write(writer));
    try {
      await waitFor(() => transactions >= 200, { what: 'the writers to get going' });
      const { body: started } = await t.http.post('/backfills').send({ table: 'stock' }).expect(201);
      const done = await waitFor(
        async () => {
          const { body } = await t.http.get(`/backfills/${started.id}`);
          if (body.state === 'failed') throw new Error(body.error);
          return body.state === 'completed' && body;
        },
        { timeout: 120_000, what: 'the backfill to complete' },
      );
      const during = transactions;
      // Writers go on a little after the end: their changes must land after the reads too.
      await waitFor(() => transactions >= during + 200, { what: 'more writes after the backfill' });
      writing = false;
      await Promise.all(running);
      expect(done.rowsDone).toBeGreaterThan(ROWS / 2);
    } finally {
      writing = false;
      await Promise.allSettled(running);
      await writers.end();
    }

    await waitFor(async () => (await expectExactlyOnce(t.db.sql)).changes === (await expectExactlyOnce(t.db.sql)).notifications, {
      timeout: 60_000,
      what: 'the drainer to catch up',
    });
    expect(await expectExactlyOnce(t.db.sql)).toMatchObject({ missing: 0, duplicates: 0 });

    const log = await notifications(t.db.sql, `n.table_name = 'stock'`);
    const { state, problems } = applyInOrder(log as never);
    expect(problems).toEqual([]);
    const { rows: table } = await t.db.sql.query<Row>(`SELECT id, v, note FROM stock ORDER BY id`);
    expect([...state.values()].sort((a, b) => a.id - b.id)).toEqual(table);

    // Each key read at most once; each row there at start read exactly once unless a deletion came first.
    const reads = new Map<number, number>();
    const deleted = new Set<number>();
    for (const { payload } of log as unknown as { payload: { op: string; pk: { id: number } } }[]) {
      if (payload.op === 'READ') reads.set(payload.pk.id, (reads.get(payload.pk.id) ?? 0) + 1);
      if (payload.op === 'DELETE' && !reads.has(payload.pk.id)) deleted.add(payload.pk.id);
    }
    expect([...reads.values()].filter((n) => n > 1)).toEqual([]);
    const unread = Array.from({ length: ROWS }, (_, i) => i + 1).filter((id) => !reads.has(id));
    expect(unread.filter((id) => !deleted.has(id))).toEqual([]);
    expect(log.filter((n) => n.payload.op !== 'READ').length).toBeGreaterThan(500);
  }, 240_000);
});
