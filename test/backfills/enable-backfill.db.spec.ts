import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryRunner } from 'typeorm';
import { EnableWithBackfill1764915000000 } from '../../migrations/1764915000000-EnableWithBackfill.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** What a backfill row says, less what differs between two started apart (id, times). */
const WHAT = `table_name, relid::text, key, "where", destinations, end_key, cursor, rows_done::int, estimate::int, chunk_size, state, error, actor`;

/** capture.enable(…, backfill => true): capture and a backfill in one transaction, the backfill POST /backfills starts. */
describe('capture.enable with backfill', () => {
  let db: TestDatabase;
  let sql: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = db.sql;
  });
  afterAll(() => db.drop());

  const backfillRow = async (id: string) => (await sql.query(`SELECT ${WHAT} FROM capture.backfills WHERE id = $1`, [id])).rows[0];

  it('captures the table and starts the backfill capture.backfill_start starts, returning its id', async () => {
    await sql.query(`CREATE TABLE racks (id int PRIMARY KEY, label text)`);
    await sql.query(`INSERT INTO racks SELECT g, 'r' || g FROM generate_series(1, 300) g`);
    const { rows: [enabled] } = await sql.query(`SELECT capture.enable('racks', backfill => true)::text AS id`);
    expect(enabled.id).toMatch(/^\d+$/);
    const { rows: [captured] } = await sql.query(`SELECT columns, keep_old FROM capture.captured WHERE relid = 'racks'::regclass`);
    expect(captured).toEqual({ columns: null, keep_old: true });
    const { rows: [started] } = await sql.query(`SELECT (capture.backfill_start('racks', NULL, NULL)).id::text AS id`);
    const viaEnable = await backfillRow(enabled.id);
    expect(viaEnable).toEqual(await backfillRow(started.id));
    expect(viaEnable).toMatchObject({ table_name: 'racks', key: ['id'], where: null, end_key: { id: 300 }, state: 'running', rows_done: 0 });
  });

  it('with the other options, on a table captured already (re-armed and backfilled)', async () => {
    await sql.query(`CREATE TABLE bins (id text PRIMARY KEY, size int)`);
    await sql.query(`INSERT INTO bins VALUES ('a', 1), ('b', 2)`);
    await sql.query(`SELECT capture.enable('bins', ARRAY['size'], false)`);
    const { rows: [again] } = await sql.query(`SELECT capture.enable('bins', NULL, NULL, true)::text AS id`);
    expect(await backfillRow(again.id)).toMatchObject({ table_name: 'bins', end_key: { id: 'b' }, state: 'running' });
    const { rows: [captured] } = await sql.query(`SELECT columns, keep_old FROM capture.captured WHERE relid = 'bins'::regclass`);
    expect(captured).toEqual({ columns: ['size'], keep_old: false });
    // An empty table: completed at once, as a POST /backfills of it.
    await sql.query(`CREATE TABLE nothing (id int PRIMARY KEY)`);
    const { rows: [empty] } = await sql.query(`SELECT capture.enable('nothing', backfill => true)::text AS id`);
    expect(await backfillRow(empty.id)).toMatchObject({ state: 'completed', rows_done: 0, end_key: null });
  });

  it('starts nothing without backfill; the calls written before it read as they did', async () => {
    await sql.query(`CREATE TABLE trays (id int PRIMARY KEY, kind text)`);
    const before = (await sql.query(`SELECT count(*)::int AS n FROM capture.backfills`)).rows[0].n;
    expect((await sql.query(`SELECT capture.enable('trays')::text AS id`)).rows[0].id).toBeNull();
    expect((await sql.query(`SELECT capture.enable('trays', ARRAY['kind'])::text AS id`)).rows[0].id).toBeNull();
    expect((await sql.query(`SELECT capture.enable('trays', ARRAY['kind'], false)::text AS id`)).rows[0].id).toBeNull();
    expect((await sql.query(`SELECT capture.enable('trays', columns => '{}', keep_old => true, backfill => false)::text AS id`)).rows[0].id).toBeNull();
    expect((await sql.query(`SELECT count(*)::int AS n FROM capture.backfills`)).rows[0].n).toBe(before);
    const { rows: [captured] } = await sql.query(`SELECT columns, keep_old FROM capture.captured WHERE relid = 'trays'::regclass`);
    expect(captured).toEqual({ columns: null, keep_old: true });
    const { rows: signatures } = await sql.query(`SELECT p.oid::regprocedure::text AS signature FROM pg_proc p WHERE p.oid::regprocedure::text LIKE 'capture.enable(%'`);
    expect(signatures).toEqual([{ signature: 'capture.enable(regclass,text[],boolean,boolean)' }]);
  });

  it('refuses a backfill of a table without a primary key, and then captures nothing (one transaction)', async () => {
    await sql.query(`CREATE TABLE heap (a int)`);
    await expect(sql.query(`SELECT capture.enable('heap', backfill => true)`)).rejects.toMatchObject({
      code: '42P16',
      message: expect.stringContaining('heap has no primary key'),
    });
    expect((await sql.query(`SELECT count(*)::int AS n FROM capture.captured WHERE relid = 'heap'::regclass`)).rows[0].n).toBe(0);
  });

  it('reverts to the function it replaced (and up again), the tables captured meanwhile still captured', async () => {
    const client = await sql.connect();
    const runner = { query: (text: string, values?: unknown[]) => client.query(text, values).then((result) => result.rows) } as unknown as QueryRunner;
    const signature = async () =>
      (await client.query(`SELECT p.oid::regprocedure::text AS s, pg_get_function_result(p.oid) AS r FROM pg_proc p WHERE p.oid::regprocedure::text LIKE 'capture.enable(%'`)).rows;
    try {
      await client.query('BEGIN');
      await new EnableWithBackfill1764915000000().down(runner);
      expect(await signature()).toEqual([{ s: 'capture.enable(regclass,text[],boolean)', r: 'void' }]);
      await client.query(`SELECT capture.enable('racks')`);
      await new EnableWithBackfill1764915000000().up(runner);
      expect(await signature()).toEqual([{ s: 'capture.enable(regclass,text[],boolean,boolean)', r: 'bigint' }]);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
