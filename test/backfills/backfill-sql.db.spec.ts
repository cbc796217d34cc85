import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillChunk } from '../../src/backfills/chunks.js';
import { clientSql } from '../../src/database/sql.js';
import { NOTIFICATIONS_CHANNEL } from '../../src/log/channels.js';
import { appendBatch } from '../../src/log/sql/append-batch.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

interface Read {
  schema_name: string;
  table_name: string;
  op: string;
  row_pk: Record<string, unknown>;
  new: Record<string, unknown>;
  old: null;
  backfill_id: string;
  actor: string;
}

/** capture.backfill_start and capture.backfill_chunk on their own: no app, no runner. */
describe('backfill SQL (capture.backfill_start, capture.backfill_chunk)', () => {
  let db: TestDatabase;
  let sql: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = db.sql;
  });
  afterAll(() => db.drop());

  // In FROM: `SELECT (f()).*` would call it once per column, and start a backfill each time.
  const start = async (table: string, where: Record<string, unknown> | null = null) =>
    (await sql.query(`SELECT b.* FROM capture.backfill_start($1::regclass, $2, NULL) b`, [table, where])).rows[0];

  /** Runs chunks of `size` rows until the backfill is no longer running; the rows each chunk read. */
  async function runToEnd(id: string, size: number): Promise<number[]> {
    const chunks: number[] = [];
    for (;;) {
      const { rows: [chunk] } = await sql.query(`SELECT * FROM capture.backfill_chunk($1, $2)`, [id, size]);
      if (chunk.state !== 'running') return chunk.read ? [...chunks, chunk.read] : chunks;
      chunks.push(chunk.read);
      if (chunks.length > 10_000) throw new Error('the backfill does not end');
    }
  }

  const reads = async (id: string): Promise<Read[]> =>
    (await sql.query<Read>(`SELECT schema_name, table_name, op, row_pk, new, old, backfill_id::text, actor FROM capture.changes WHERE backfill_id = $1 AND op = 'READ' ORDER BY id`, [id])).rows;

  it('reads each row once, in key order, as the capture trigger writes it, and completes with the cursor at the end', async () => {
    await sql.query(`CREATE TABLE plain (id int PRIMARY KEY, name text, price numeric, tags text[], at timestamptz)`);
    await sql.query(`INSERT INTO plain SELECT g, 'n' || g, g / 3.0, ARRAY['a', g::text], '2026-12-01T10:00:00Z'::timestamptz + g * interval '1 s' FROM generate_series(1, 250) g`);
    await sql.query(`SELECT capture.enable('plain')`);
    // A row inserted under capture: its INSERT journal row is what the trigger writes.
    await sql.query(`INSERT INTO plain VALUES (251, 'live', 1.5, '{x}', now())`);
    const backfill = await start('plain');
    expect(backfill).toMatchObject({ state: 'running', table_name: 'plain', key: ['id'], end_key: { id: 251 }, cursor: null });
    expect(Number(backfill.estimate)).toBeGreaterThan(0);
    expect(await runToEnd(backfill.id, 100)).toEqual([100, 100, 51]);
    const read = await reads(backfill.id);
    expect(read.map((r) => r.row_pk.id)).toEqual(Array.from({ length: 251 }, (_, i) => i + 1));
    expect(read.every((r) => r.op === 'READ' && r.old === null && r.schema_name === 'public' && r.table_name === 'plain')).toBe(true);
    const { rows: [inserted] } = await sql.query(`SELECT row_pk, new FROM capture.changes WHERE table_name = 'plain' AND op = 'INSERT'`);
    expect({ row_pk: read[250].row_pk, new: read[250].new }).toEqual(inserted);
    const { rows: [done] } = await sql.query(`SELECT state, cursor, rows_done::int, estimate::int, finished_at FROM capture.backfills WHERE id = $1`, [backfill.id]);
    expect(done).toMatchObject({ state: 'completed', cursor: { id: 251 }, rows_done: 251, estimate: 251 });
    expect(done.finished_at).toBeInstanceOf(Date);
    // The journal row passes the drainer's check, and the log shows it as <table>.read naming the backfill.
    const { rows: [row] } = await sql.query(
      `SELECT capture.well_formed(c) AS ok, capture.event_name(c.schema_name, c.table_name, c.op) AS event, capture.payload(c) AS payload
       FROM capture.changes c WHERE backfill_id = $1 AND op = 'READ' ORDER BY id LIMIT 1`,
      [backfill.id],
    );
    expect(row).toMatchObject({ ok: true, event: 'plain.read', payload: { op: 'READ', pk: { id: 1 }, old: null, backfill: backfill.id } });
    // Its own events, first and last of its journal rows, pass the check too and name the table.
    const { rows: own } = await sql.query(
      `SELECT capture.well_formed(c) AS ok, capture.event_name(c.schema_name, c.table_name, c.op) AS event, c.new->>'rows' AS rows
       FROM capture.changes c WHERE backfill_id = $1 AND op <> 'READ' ORDER BY id`,
      [backfill.id],
    );
    expect(own).toEqual([
      { ok: true, event: 'plain.backfill_started', rows: '0' },
      { ok: true, event: 'plain.backfill_completed', rows: '251' },
    ]);
    const { rows: [bounds] } = await sql.query(`SELECT min(id) FILTER (WHERE op = 'READ') > min(id) AND max(id) FILTER (WHERE op = 'READ') < max(id) AS inside FROM capture.changes WHERE backfill_id = $1`, [backfill.id]);
    expect(bounds.inside).toBe(true);
  });

  it("drains a backfill's reads into the log looking up its destinations once per batch, not once per read", async () => {
    await sql.query(`CREATE TABLE looked (id int PRIMARY KEY)`);
    await sql.query(`INSERT INTO looked SELECT generate_series(1, 300)`);
    await sql.query(`SELECT capture.enable('looked')`);
    const backfill = await start('looked');
    expect(await runToEnd(backfill.id, 300)).toEqual([300]);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // The function calls of one transaction (track_functions) while the drainer's statement takes the reads.
      await client.query(`BEGIN; SET LOCAL track_functions = 'all'`);
      let drained = 0;
      for (let rows; (rows = await appendBatch(clientSql(client), { rows: 10_000, bytes: 1 << 30 }, NOTIFICATIONS_CHANNEL)).length; ) {
        drained += rows.filter((r) => r.backfill_id === backfill.id && r.op === 'READ').length;
      }
      const { rows: [looks] } = await client.query(
        `SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_xact_user_functions WHERE schemaname = 'capture' AND funcname = 'backfill_destinations'`,
      );
      await client.query('ROLLBACK');
      expect(drained).toBe(300);
      // Each statement took everything committed so far in one batch: one backfill, one look each.
      expect(looks.calls).toBeGreaterThan(0);
      expect(looks.calls).toBeLessThanOrEqual(2);
    } finally {
      await client.end();
    }
  });

  it('reads nothing more once it completed, and a table empty at start completes at once', async () => {
    await sql.query(`CREATE TABLE empty (id int PRIMARY KEY)`);
    await sql.query(`SELECT capture.enable('empty')`);
    const backfill = await start('empty');
    expect(backfill).toMatchObject({ state: 'completed', end_key: null, estimate: '0' });
    const { rows } = await sql.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id]);
    expect(rows).toEqual([{ read: 0, state: 'completed' }]);
  });

  it('pages composite and unusual keys (enum, uuid, text with a collation) in their own order, each row once', async () => {
    await sql.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
    await sql.query(`CREATE TABLE odd (m mood, u uuid, t text COLLATE "C", r int, PRIMARY KEY (m, t, u))`);
    await sql.query(`
      INSERT INTO odd
      SELECT (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::mood, gen_random_uuid(), (ARRAY['a', 'B', 'b', 'Z', 'é', ''])[1 + g % 6], g
      FROM generate_series(1, 200) g`);
    await sql.query(`SELECT capture.enable('odd')`);
    const backfill = await start('odd');
    await runToEnd(backfill.id, 7);
    const read = await reads(backfill.id);
    const { rows: expected } = await sql.query(`SELECT jsonb_build_object('m', m, 't', t, 'u', u) AS pk FROM odd ORDER BY m, t, u`);
    expect(read.map((r) => r.row_pk)).toEqual(expected.map((e) => e.pk));
    // A column named r is read as a column, the row as the row.
    expect(read[0].new).toHaveProperty('r');
  });

  it('pages a text key in its collation', async () => {
    await sql.query(`CREATE TABLE words (w text COLLATE "und-x-icu" PRIMARY KEY)`).catch(() => sql.query(`CREATE TABLE words (w text COLLATE "POSIX" PRIMARY KEY)`));
    await sql.query(`INSERT INTO words SELECT unnest(ARRAY['b', 'A', 'a', 'B', 'é', 'e', 'z', 'Z', '1', ''])`);
    await sql.query(`SELECT capture.enable('words')`);
    const backfill = await start('words');
    await runToEnd(backfill.id, 3);
    const { rows: expected } = await sql.query(`SELECT w FROM words ORDER BY w`);
    expect((await reads(backfill.id)).map((r) => r.row_pk.w)).toEqual(expected.map((e) => e.w));
  });

  it('reads only the rows a where names', async () => {
    await sql.query(`CREATE TABLE tickets (id bigint PRIMARY KEY, status text, n int)`);
    await sql.query(`INSERT INTO tickets SELECT g, CASE WHEN g % 4 = 0 THEN 'open' ELSE 'closed' END, g % 2 FROM generate_series(1, 100) g`);
    await sql.query(`SELECT capture.enable('tickets')`);
    const backfill = await start('tickets', { status: 'open', n: 0 });
    await runToEnd(backfill.id, 10);
    expect((await reads(backfill.id)).map((r) => r.row_pk.id)).toEqual(Array.from({ length: 25 }, (_, i) => (i + 1) * 4));
  });

  it('refuses a table that is not captured, has no primary key, or a where naming a column it lacks', async () => {
    await sql.query(`CREATE TABLE loose (a int, b text)`);
    await expect(start('loose')).rejects.toMatchObject({ code: '55000', message: expect.stringContaining('not under capture') });
    await sql.query(`SELECT capture.enable('loose')`);
    await expect(start('loose')).rejects.toMatchObject({ code: '42P16', message: expect.stringContaining('has no primary key') });
    await expect(start('tickets', { nope: 1 })).rejects.toMatchObject({ code: '42703', message: expect.stringContaining('has no column nope') });
    await expect(start('tickets', { status: { a: 1 } })).rejects.toMatchObject({ code: '22023' });
    await expect(start('no_such_table')).rejects.toMatchObject({ code: '42P01' });
  });

  it('runs one chunk of a backfill at a time: a second runner gets nothing while the first one is under way, then goes on from its cursor', async () => {
    await sql.query(`CREATE TABLE shared (id int PRIMARY KEY)`);
    await sql.query(`INSERT INTO shared SELECT generate_series(1, 30)`);
    await sql.query(`SELECT capture.enable('shared')`);
    const backfill = await start('shared');
    const first = await sql.connect();
    try {
      await first.query('BEGIN');
      expect((await first.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id])).rows).toEqual([{ read: 10, state: 'running' }]);
      expect((await sql.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id])).rows).toEqual([]);
      await first.query('COMMIT');
    } finally {
      first.release();
    }
    expect((await sql.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id])).rows).toEqual([{ read: 10, state: 'running' }]);
    expect((await reads(backfill.id)).map((r) => r.row_pk.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("runs a chunk as the runner does (backfillChunk): its time in PostgreSQL comes back, and the connection's synchronous_commit is left as it was", async () => {
    await sql.query(`CREATE TABLE timed (id int PRIMARY KEY)`);
    await sql.query(`INSERT INTO timed SELECT generate_series(1, 30)`);
    await sql.query(`SELECT capture.enable('timed')`);
    const backfill = await start('timed');
    const client = await sql.connect();
    try {
      const run = async <R>(text: string, values?: readonly unknown[]) => (await client.query(text, values as unknown[])).rows as R[];
      const setting = async () => (await client.query(`SHOW synchronous_commit`)).rows[0].synchronous_commit;
      await client.query(`SET synchronous_commit = on`);
      const chunk = await backfillChunk(run, backfill.id, 20);
      expect(chunk).toMatchObject({ read: 20, state: 'running' });
      expect(chunk!.heldMs).toBeGreaterThanOrEqual(0);
      expect(chunk!.heldMs).toBeLessThan(10_000);
      // Off for the chunk's own transaction only: the pooled connection's next transactions flush as usual.
      expect(await setting()).toBe('on');
      expect(await backfillChunk(run, backfill.id, 20)).toMatchObject({ read: 10, state: 'completed' });
      await client.query(`RESET synchronous_commit`);
    } finally {
      client.release();
    }
    expect((await reads(backfill.id)).map((r) => r.row_pk.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('stops at a pause and goes on from the cursor after it; fails with the reason when the table leaves capture', async () => {
    await sql.query(`CREATE TABLE paused (id int PRIMARY KEY)`);
    await sql.query(`INSERT INTO paused SELECT generate_series(1, 30)`);
    await sql.query(`SELECT capture.enable('paused')`);
    const backfill = await start('paused');
    await sql.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id]);
    await sql.query(`UPDATE capture.backfills SET state = 'paused' WHERE id = $1`, [backfill.id]);
    expect((await sql.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id])).rows).toEqual([{ read: 0, state: 'paused' }]);
    await sql.query(`UPDATE capture.backfills SET state = 'running' WHERE id = $1`, [backfill.id]);
    await sql.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id]);
    expect((await reads(backfill.id)).map((r) => r.row_pk.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    await sql.query(`SELECT capture.disable('paused')`);
    expect((await sql.query(`SELECT * FROM capture.backfill_chunk($1, 10)`, [backfill.id])).rows).toEqual([{ read: 0, state: 'failed' }]);
    const { rows: [failed] } = await sql.query(`SELECT state, error FROM capture.backfills WHERE id = $1`, [backfill.id]);
    expect(failed).toEqual({ state: 'failed', error: 'paused is no longer under capture' });
  });
});
