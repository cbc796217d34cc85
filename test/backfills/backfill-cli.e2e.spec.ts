import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TestDatabase } from '../support/database.js';

const root = path.resolve(import.meta.dirname, '../..');

/** The built `npm run capture` on the database: its exit status and output. */
function capture(db: TestDatabase, ...args: string[]): { status: number; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [path.join(root, 'dist/src/capture/capture.cli.js'), ...args], {
    env: { PATH: process.env.PATH, DATABASE_URL: db.url },
    stdio: 'pipe',
  });
  return { status: run.status ?? -1, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

/** `npm run capture -- enable <table> --backfill` and `backfill <table> --where column=value`. */
describe('the capture CLI starting backfills', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(root, 'scripts/build-if-stale.mjs')], { cwd: root, stdio: 'pipe' });
    db = await createTestDatabase();
  }, 180_000);
  afterAll(() => db?.drop());

  const reads = async (table: string) =>
    (await db.sql.query(`SELECT row_pk->>'id' AS id, backfill_id::text AS backfill FROM capture.changes WHERE table_name = $1 AND op = 'READ' ORDER BY id`, [table])).rows;

  it('enable --backfill captures the table, then backfills it as capture.enable(…, backfill => true) does, waiting with progress', async () => {
    await db.sql.query(`CREATE TABLE pallets (id int PRIMARY KEY, zone text)`);
    await db.sql.query(`INSERT INTO pallets SELECT g, 'z' || (g % 3) FROM generate_series(1, 2000) g`);
    const run = capture(db, 'enable', 'pallets', '--backfill');
    expect(run).toMatchObject({ status: 0, stdout: expect.stringMatching(/^capturing pallets\nbackfill (\d+) of pallets completed: 2000 rows in \d+\.\d s\n$/) });
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(/^pallets: \[#{24}\] 100% {2}2,000 of 2,000 rows .* completed$/);
    const id = /backfill (\d+)/.exec(run.stdout)![1];
    const { rows: [backfill] } = await db.sql.query(`SELECT state, "where", destinations, rows_done::int FROM capture.backfills WHERE id = $1`, [id]);
    expect(backfill).toEqual({ state: 'completed', where: null, destinations: null, rows_done: 2000 });
    const read = await reads('pallets');
    expect(read).toHaveLength(2000);
    expect(new Set(read.map((r) => r.id)).size).toBe(2000);
    expect(read.every((r) => r.backfill === id)).toBe(true);
    // Captured from then on.
    await db.sql.query(`UPDATE pallets SET zone = 'moved' WHERE id = 1`);
    expect((await db.sql.query(`SELECT count(*)::int AS n FROM capture.changes WHERE table_name = 'pallets' AND op = 'UPDATE'`)).rows[0].n).toBe(1);
    // Without --backfill, a re-arm starts none.
    expect(capture(db, 'enable', 'pallets')).toMatchObject({ status: 0, stdout: 'capturing pallets\n' });
    expect((await db.sql.query(`SELECT count(*)::int AS n FROM capture.backfills WHERE table_name = 'pallets'`)).rows[0].n).toBe(1);
  });

  it('enable --backfill of a table without a primary key refuses, and captures nothing', async () => {
    await db.sql.query(`CREATE TABLE heap (a int)`);
    expect(capture(db, 'enable', 'heap', '--backfill')).toMatchObject({ status: 1, stderr: expect.stringContaining('heap has no primary key') });
    expect((await db.sql.query(`SELECT count(*)::int AS n FROM capture.captured WHERE relid = 'heap'::regclass`)).rows[0].n).toBe(0);
  });

  it('backfill --where reads only the rows with those values (as text, as POST /backfills does)', async () => {
    await db.sql.query(`CREATE TABLE parcels (id int PRIMARY KEY, status text, region int)`);
    await db.sql.query(`INSERT INTO parcels SELECT g, CASE WHEN g % 4 = 0 THEN 'open' ELSE 'shut' END, g % 2 FROM generate_series(1, 400) g`);
    await db.sql.query(`SELECT capture.enable('parcels')`);
    const run = capture(db, 'backfill', 'parcels', '--where', 'status=open', '--where', 'region=0');
    expect(run).toMatchObject({ status: 0, stdout: expect.stringMatching(/^backfill (\d+) of parcels completed: 100 rows in \d+\.\d s\n$/) });
    const id = /backfill (\d+)/.exec(run.stdout)![1];
    expect((await db.sql.query(`SELECT "where" FROM capture.backfills WHERE id = $1`, [id])).rows[0].where).toEqual({ status: 'open', region: '0' });
    const read = await reads('parcels');
    expect(read.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => (i + 1) * 4));
    expect(capture(db, 'backfill', 'parcels', '--where', 'colour=red')).toMatchObject({ status: 1, stderr: expect.stringContaining('parcels has no column colour') });
    expect(capture(db, 'backfill', 'parcels', '--where', 'status')).toMatchObject({ status: 2, stderr: expect.stringContaining('--where column=value') });
  });
});
