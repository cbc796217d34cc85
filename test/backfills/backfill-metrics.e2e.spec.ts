import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

const ROWS = 20_000;

/** Every sample of /metrics whose name starts with rowcast_backfill, as `name{labels}` → value. */
async function scrape(t: TestApp): Promise<Map<string, number>> {
  const text = (await t.http.get('/metrics').expect(200)).text;
  return new Map(
    text
      .split('\n')
      .filter((line) => line.startsWith('rowcast_backfill'))
      .map((line) => {
        const at = line.lastIndexOf(' ');
        return [line.slice(0, at), Number(line.slice(at + 1))];
      }),
  );
}

const labels = (id: string, table: string) => `{backfill="${id}",table="${table}"}`;
const stateOf = (metrics: Map<string, number>, id: string, table: string) =>
  ['running', 'paused', 'cancelled', 'completed', 'failed'].filter((state) => metrics.get(`rowcast_backfill_state{backfill="${id}",table="${table}",state="${state}"}`) === 1);

/** /metrics per backfill: rows, estimate, rate, ETA and state; the rows this instance read; a bounded set of labels. */
describe('backfill metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    await t.db.sql.query(`CREATE TABLE crates (id int PRIMARY KEY, n int NOT NULL)`);
    await t.db.sql.query(`INSERT INTO crates SELECT g, g FROM generate_series(1, ${ROWS}) g`);
    await t.db.sql.query(`SELECT capture.enable('crates')`);
    await t.db.sql.query(`CREATE TABLE hollow (id int PRIMARY KEY)`);
    await t.db.sql.query(`SELECT capture.enable('hollow')`);
  });
  afterAll(() => t.close());

  it('shows a backfill running, paused and completed: its rows, estimate, rate, ETA and state', async () => {
    const before = (await scrape(t)).get('rowcast_backfill_rows_read_total') ?? 0;
    // A writer holding a row three quarters in: the backfill reads up to it and waits there, running.
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM crates WHERE id = ${(ROWS * 3) / 4} FOR UPDATE`);
      const { body: started } = await t.http.post('/backfills').send({ table: 'crates' }).expect(201);
      const of = labels(started.id, 'crates');
      const running = await waitFor(
        async () => {
          const metrics = await scrape(t);
          return (metrics.get(`rowcast_backfill_rows${of}`) ?? 0) > 0 && stateOf(metrics, started.id, 'crates')[0] === 'running' ? metrics : undefined;
        },
        { timeout: 20_000, what: 'the backfill running, with rows read, in /metrics' },
      );
      expect(running.get(`rowcast_backfill_rows${of}`)).toBeLessThan((ROWS * 3) / 4);
      expect(running.get(`rowcast_backfill_estimate_rows${of}`)).toBeGreaterThan(ROWS / 2);
      expect(running.get(`rowcast_backfill_rows_per_second${of}`)).toBeGreaterThan(0);
      expect(running.get(`rowcast_backfill_eta_seconds${of}`)).toBeGreaterThanOrEqual(0);
      expect(stateOf(running, started.id, 'crates')).toEqual(['running']);
      // One sample per state: 1 for the one it is in, 0 for the others.
      expect([...running.keys()].filter((key) => key.startsWith(`rowcast_backfill_state{backfill="${started.id}"`))).toHaveLength(5);

      await t.http.post(`/backfills/${started.id}/pause`).expect(200);
      const paused = await waitFor(
        async () => {
          const metrics = await scrape(t);
          return stateOf(metrics, started.id, 'crates')[0] === 'paused' ? metrics : undefined;
        },
        { what: 'the backfill paused in /metrics' },
      );
      expect(paused.has(`rowcast_backfill_eta_seconds${of}`)).toBe(false);
      await holder.query('COMMIT');
      await t.http.post(`/backfills/${started.id}/resume`).expect(200);

      const completed = await waitFor(
        async () => {
          const metrics = await scrape(t);
          return stateOf(metrics, started.id, 'crates')[0] === 'completed' ? metrics : undefined;
        },
        { timeout: 60_000, what: 'the backfill completed in /metrics' },
      );
      expect(completed.get(`rowcast_backfill_rows${of}`)).toBe(ROWS);
      expect(completed.get(`rowcast_backfill_estimate_rows${of}`)).toBe(ROWS);
      // Only this instance's runner ran the chunks: it read every row, once.
      expect(completed.get('rowcast_backfill_rows_read_total')! - before).toBe(ROWS);
    } finally {
      await holder.end();
    }
  }, 120_000);

  it('keeps its labels bounded: every backfill under way, and only the last five to finish', async () => {
    // Empty: each one completes at start.
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await t.http.post('/backfills').send({ table: 'hollow' }).expect(201)).body.id);
    const shown = await waitFor(
      async () => {
        const metrics = await scrape(t);
        return stateOf(metrics, ids[6], 'hollow')[0] === 'completed' ? metrics : undefined;
      },
      { what: 'the last empty backfill in /metrics' },
    );
    const backfills = new Set([...shown.keys()].flatMap((key) => /^rowcast_backfill_state\{backfill="(\d+)"/.exec(key)?.[1] ?? []));
    expect([...backfills].sort()).toEqual(ids.slice(2).sort());
    expect(shown.get(`rowcast_backfill_rows${labels(ids[6], 'hollow')}`)).toBe(0);
  });
});
