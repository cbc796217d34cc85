import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

const BACKLOG = 100_000;

/** /health answers from readings taken in the background: a backlog or a slow database never makes it fail. */
describe('/health with a backlog and a slow journal', () => {
  let t: TestApp;
  let holder: pg.Client;

  beforeAll(async () => {
    t = await createTestApp();
    holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    await waitFor(async () => (await t.http.get('/health')).body.listener?.draining, { what: 'the drainer' });
  });
  afterAll(async () => {
    await holder.end();
    await t.close();
  });

  it('is ready while a large backlog waits and is drained, and reports it', async () => {
    const statuses: number[] = [];
    const health = async () => {
      const response = await t.http.get('/health');
      statuses.push(response.status);
      return response.body;
    };
    // Hold the drain back (its batch insert waits for this lock; readers do not), then commit a backlog.
    await holder.query(`BEGIN; LOCK TABLE notification_batches IN SHARE MODE`);
    try {
      await t.db.sql.query(
        `INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor)
         SELECT 'public', 'orders', 'INSERT', jsonb_build_object('id', g), jsonb_build_object('id', g), 'fill'
         FROM generate_series(1, $1) g`,
        [BACKLOG],
      );
      const waiting = await waitFor(async () => {
        const body = await health();
        return body.listener.backlog >= BACKLOG ? body : undefined;
      }, { what: 'the backlog on /health' });
      expect(waiting).toMatchObject({ status: 'ok', database: 'up', listener: { connected: true, draining: true } });
      expect(waiting.listener.lagMs).toBeGreaterThanOrEqual(0);
    } finally {
      await holder.query('COMMIT');
    }
    await waitFor(async () => (await health()).listener.backlog === 0, { timeout: 60_000, what: 'the backlog to be drained' });
    expect(statuses.every((status) => status === 200)).toBe(true);
  });

  it('answers at once, ready and with the database up, while the backlog cannot be read', async () => {
    // Nothing can read the journal while this lock is held (the drainer neither): the database answers, the backlog query does not.
    await holder.query(`BEGIN; LOCK TABLE capture.changes IN ACCESS EXCLUSIVE MODE`);
    try {
      // The background reading waits on the lock until it counts as failed (what /metrics shows).
      await waitFor(async () => /^rowcast_database_up 0$/m.test((await t.http.get('/metrics')).text), {
        what: 'the backlog reading to time out',
        interval: 200,
      });
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const response = await t.http.get('/health');
        expect(performance.now() - started).toBeLessThan(500);
        expect(response.status).toBe(200);
        expect(response.body).toMatchObject({ status: 'ok', database: 'up', listener: { connected: true, backlog: 0 } });
      }
    } finally {
      await holder.query('COMMIT');
    }
  });
});
