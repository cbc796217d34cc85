import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { bearer, createKey, reloadKeys } from '../support/keys.js';
import { backfillFinished, readWholeLog } from '../support/backfills.js';
import { waitFor } from '../support/wait.js';

/** POST/GET /backfills and pause, resume, cancel, on the whole app with its runner. */
describe('backfills over REST', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    await t.db.sql.query(`CREATE TABLE orders (id int PRIMARY KEY, status text, total int)`);
    await t.db.sql.query(`INSERT INTO orders SELECT g, CASE WHEN g % 3 = 0 THEN 'open' ELSE 'paid' END, g FROM generate_series(1, 3000) g`);
    await t.db.sql.query(`SELECT capture.enable('orders')`);
  });
  afterAll(() => t.close());

  const finished = (id: string, state = 'completed') => backfillFinished(t, id, state);
  const readAll = (query: Record<string, string>) => readWholeLog(t, query);

  it('reads every row once into the log as <table>.read naming the backfill, then completes with its progress', async () => {
    const { body: started } = await t.http.post('/backfills').send({ table: 'orders' }).expect(201);
    expect(started).toMatchObject({ table: 'orders', key: ['id'], state: 'running', where: null, endKey: { id: 3000 } });
    const done = await finished(started.id);
    expect(done).toMatchObject({ rowsDone: 3000, estimate: 3000, etaSeconds: 0, cursor: { id: 3000 }, error: null });
    expect(done.rate).toBeGreaterThan(0);
    expect(done.finishedAt).toEqual(expect.any(String));
    await waitFor(async () => (await readAll({ event: 'orders.read' })).length >= 3000, { what: '3,000 reads in the log' });
    const reads = await readAll({ event: 'orders.read' });
    expect(reads.map((n) => n.payload.pk!.id)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(reads.every((n) => n.payload.op === 'READ' && n.payload.backfill === started.id)).toBe(true);
    // A .* prefix leaves reads out; the whole log has them, between the backfill's start and end.
    expect(await readAll({ event: 'orders.*' })).toEqual([]);
    const log = await readAll({ table: 'orders' });
    expect([log.length, log[0].event, log[log.length - 1].event]).toEqual([3002, 'orders.backfill_started', 'orders.backfill_completed']);
    const { body: list } = await t.http.get('/backfills').expect(200);
    expect(list[0]).toMatchObject({ id: started.id, state: 'completed' });
  });

  it('reads only the rows its where names', async () => {
    const { body: started } = await t.http.post('/backfills').send({ table: 'public.orders', where: { status: 'open' } }).expect(201);
    expect(started.where).toEqual({ status: 'open' });
    expect(await finished(started.id)).toMatchObject({ rowsDone: 1000 });
  });

  it('pauses at once, even while a chunk waits for a writer; resumes from its cursor; reads each row once all the same', async () => {
    await t.db.sql.query(`CREATE TABLE parcels (id int PRIMARY KEY, weight int)`);
    await t.db.sql.query(`INSERT INTO parcels SELECT g, g FROM generate_series(1, 20000) g`);
    await t.db.sql.query(`SELECT capture.enable('parcels')`);
    // A writer holds row 700: the chunk that reaches it waits.
    const writer = new pg.Client({ connectionString: t.db.url });
    await writer.connect();
    await writer.query('BEGIN');
    await writer.query(`UPDATE parcels SET weight = -1 WHERE id = 700`);
    try {
      const { body: started } = await t.http.post('/backfills').send({ table: 'parcels' }).expect(201);
      await waitFor(() => waitingOn(t.db.sql, 'capture.backfill_chunk'), { what: 'the chunk to wait for the writer' });
      const { body: paused } = await t.http.post(`/backfills/${started.id}/pause`).expect(200);
      expect(paused).toMatchObject({ state: 'paused', etaSeconds: null });
      expect(paused.rowsDone).toBeLessThan(700);
      await t.http.post(`/backfills/${started.id}/pause`).expect(409, { statusCode: 409, error: 'Conflict', message: `backfill ${started.id} is paused: it cannot be paused` });
      // The chunk under way lands once the writer commits, and leaves the backfill paused.
      await writer.query('COMMIT');
      await waitFor(async () => !(await waitingOn(t.db.sql, 'capture.backfill_chunk')) && (await t.http.get(`/backfills/${started.id}`)).body.rowsDone >= 700, {
        what: 'the chunk under way to land',
      });
      const { body: held } = await t.http.get(`/backfills/${started.id}`).expect(200);
      expect(held).toMatchObject({ state: 'paused' });
      expect(held.rowsDone).toBeLessThan(20000);
      await t.http.post(`/backfills/${started.id}/resume`).expect(200);
      expect(await finished(started.id)).toMatchObject({ rowsDone: 20000 });
      const { rows } = await t.db.sql.query(
        `SELECT count(*)::int AS reads, count(DISTINCT row_pk)::int AS rows, max((new->>'weight')::int) FILTER (WHERE row_pk->>'id' = '700') AS weight
         FROM capture.changes WHERE backfill_id = $1 AND op = 'READ'`,
        [started.id],
      );
      // The row the writer held was read after the writer committed: its new value.
      expect(rows[0]).toEqual({ reads: 20000, rows: 20000, weight: -1 });
    } finally {
      await writer.end();
    }
  });

  it('cancels a paused backfill for good', async () => {
    await t.db.sql.query(`CREATE TABLE crates (id int PRIMARY KEY)`);
    await t.db.sql.query(`INSERT INTO crates SELECT generate_series(1, 10)`);
    await t.db.sql.query(`SELECT capture.enable('crates')`);
    // Started in SQL, paused before any runner takes it (its row held meanwhile).
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      const { rows: [b] } = await holder.query(`SELECT id::text FROM capture.backfill_start('crates', NULL, NULL)`);
      await holder.query(`UPDATE capture.backfills SET state = 'paused' WHERE id = $1`, [b.id]);
      await holder.query('COMMIT');
      const { body } = await t.http.post(`/backfills/${b.id}/cancel`).expect(200);
      expect(body).toMatchObject({ state: 'cancelled', rowsDone: 0 });
      expect(body.finishedAt).toEqual(expect.any(String));
      await t.http.post(`/backfills/${b.id}/resume`).expect(409);
      await t.http.post(`/backfills/${b.id}/cancel`).expect(409);
    } finally {
      await holder.end();
    }
  });

  it('refuses what it cannot do with a 4xx that names the problem, never a 500', async () => {
    await t.db.sql.query(`CREATE TABLE loose (a int, b text)`);
    await t.db.sql.query(`CREATE TABLE uncaptured (id int PRIMARY KEY)`);
    await t.db.sql.query(`SELECT capture.enable('loose')`);
    const refused = async (body: object, status: number, message: string | RegExp) => {
      const response = await t.http.post('/backfills').send(body);
      expect({ status: response.status, message: response.body.message }).toEqual({ status, message: typeof message === 'string' ? message : expect.stringMatching(message) });
    };
    await refused({ table: 'nope' }, 422, 'table nope does not exist');
    await refused({ table: 'sales.nope' }, 422, 'table sales.nope does not exist');
    await refused({ table: 'uncaptured' }, 422, /^uncaptured is not under capture/);
    await refused({ table: 'loose' }, 422, /^loose has no primary key/);
    await refused({ table: 'orders', where: { colour: 'red' } }, 422, 'orders has no column colour');
    await refused({ table: 'orders', where: { status: { a: 1 } } }, 400, /^where must map/);
    await refused({ table: 'orders; drop table orders' }, 400, /^table must name a table/);
    await refused({}, 400, /^table must name a table/);
    await t.http.get('/backfills/abc').expect(400, { statusCode: 400, error: 'Bad Request', message: 'id must be a backfill id (digits)' });
    await t.http.get('/backfills/999999').expect(404, { statusCode: 404, error: 'Not Found', message: 'backfill 999999 not found' });
    await t.http.post('/backfills/999999/pause').expect(404);
  });

  it('needs the admin scope once keys exist', async () => {
    const reader = await createKey(t.db, 'reader', ['notifications:read']);
    const admin = await createKey(t.db, 'admin', ['admin']);
    await reloadKeys(t);
    await t.http.get('/backfills').expect(401);
    await t.http.get('/backfills').set(bearer(reader)).expect(403);
    const { body } = await t.http.post('/backfills').set(bearer(admin)).send({ table: 'crates' }).expect(201);
    // Its reads name who started it.
    expect(body.actor).toBe('admin');
  });
});

/** Whether a backend runs a statement starting with `query` and waits for a lock. */
async function waitingOn(sql: pg.Pool, query: string): Promise<boolean> {
  const { rows } = await sql.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`,
    [`%${query}%`],
  );
  return rows[0].n > 0;
}
