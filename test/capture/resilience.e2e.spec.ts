import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogDrainer } from '../../src/log/log-drainer.js';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { expectExactlyOnce } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

/** Writers that commit `transactions` small transactions each, on invoice items. */
async function burst(sql: pg.Pool, { writers, transactions }: { writers: number; transactions: number }): Promise<void> {
  const { rows } = await sql.query(
    `INSERT INTO invoices (invoice_no) SELECT 'B-' || g || '-' || gen_random_uuid() FROM generate_series(1, $1) g RETURNING id`,
    [writers],
  );
  await Promise.all(
    rows.map(async ({ id }, writer) => {
      for (let i = 0; i < transactions; i++) {
        await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, $2, 1)`, [
          id,
          (i % 9) + 1 + writer,
        ]);
      }
    }),
  );
}

async function drained(sql: pg.Pool, timeout = 60_000): Promise<void> {
  await waitFor(
    async () => {
      const { rows } = await sql.query(`SELECT capture.backlog() AS backlog,
        (SELECT count(*) FROM capture.changes) - (SELECT count(*) FROM notifications) AS missing`);
      return Number(rows[0].backlog) === 0 && Number(rows[0].missing) === 0;
    },
    { timeout, interval: 100, what: 'every change to become a notification' },
  );
}

async function expectEveryChangeOnce(sql: pg.Pool): Promise<number> {
  const counts = await expectExactlyOnce(sql);
  expect(counts).toMatchObject({ missing: 0, duplicates: 0 });
  expect(counts.notifications).toBe(counts.changes);
  return counts.changes;
}

describe('capture survives failures and load', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('delivers every change once when its connection is terminated in the middle of a burst', async () => {
    const t = await createTestApp({ db });
    try {
      let terminations = 0;
      const writing = burst(db.sql, { writers: 4, transactions: 750 });
      let done = false;
      void writing.finally(() => (done = true));
      const status = () => t.app.get(LogDrainer).getStatus();
      while (!done) {
        const before = status().reconnects;
        const { rowCount } = await db.sql.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'rowcast-listener'`,
        );
        if (rowCount) {
          terminations++;
          await waitFor(() => status().reconnects > before && status().draining, { what: 'the listener to come back' });
        }
        const delivered = (await db.sql.query(`SELECT count(*)::int AS n FROM notifications`)).rows[0].n;
        await waitFor(
          async () => done || (await db.sql.query(`SELECT count(*)::int AS n FROM notifications`)).rows[0].n > delivered + 200,
          { timeout: 30_000, what: 'progress between terminations' },
        );
      }
      await writing;
      await drained(db.sql);
      expect(terminations).toBeGreaterThanOrEqual(2);
      expect(t.app.get(LogDrainer).getStatus().reconnects).toBeGreaterThanOrEqual(terminations);
      expect(await expectEveryChangeOnce(db.sql)).toBeGreaterThan(3000);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('delivers every change once when the app is closed and started again in the middle of a burst', async () => {
    let t = await createTestApp({ db });
    const before = (await db.sql.query(`SELECT count(*)::int AS n FROM notifications`)).rows[0].n;
    const writing = burst(db.sql, { writers: 4, transactions: 500 });
    await waitFor(async () => (await db.sql.query(`SELECT count(*)::int AS n FROM notifications`)).rows[0].n > before + 300, {
      what: 'the burst to be under way',
    });
    await t.close();
    const { rows } = await db.sql.query(`SELECT listening FROM capture.wakeup`);
    expect(rows).toEqual([{ listening: false }]); // writers do not NOTIFY for a drainer that is gone
    t = await createTestApp({ db });
    try {
      await writing;
      await drained(db.sql);
      await expectEveryChangeOnce(db.sql);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('delivers a 100,000-row transaction in bounded batches', async () => {
    const t = await createTestApp({ db });
    try {
      const { rows } = await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('HUGE') RETURNING id`);
      await db.sql.query(
        `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) SELECT $1, 1, g FROM generate_series(1, 100000) g`,
        [rows[0].id],
      );
      await drained(db.sql, 180_000);
      await expectEveryChangeOnce(db.sql);
      const { rows: huge } = await db.sql.query(
        `SELECT count(*)::int AS n FROM notifications WHERE event = 'invoice_items.created' AND payload->'new'->>'invoice_id' = $1`,
        [rows[0].id],
      );
      expect(huge[0].n).toBe(100_000);
      const status = t.app.get(LogDrainer).getStatus();
      expect(status.largestBatch).toBeLessThanOrEqual(t.config.capture.batchSize);
    } finally {
      await t.close();
    }
  }, 240_000);
});

describe('a failing log', () => {
  it('takes nothing from the journal while the log refuses its batch, then everything once', async () => {
    const db = await createTestDatabase();
    const t = await createTestApp({ db });
    try {
      await db.sql.query(`ALTER TABLE notification_batches ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`);
      const failuresBefore = t.app.get(LogDrainer).getStatus().reconnects;
      await db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'SINK-' || g FROM generate_series(1, 50) g`);
      await waitFor(() => t.app.get(LogDrainer).getStatus().reconnects >= failuresBefore + 2, { what: 'two failed drains' });
      // The drain cursor moved in the same statement as the refused insert: it did not move.
      const { rows } = await db.sql.query(`SELECT capture.backlog()::int AS backlog, (SELECT count(*)::int FROM notifications) AS logged`);
      expect(rows[0]).toEqual({ backlog: 50, logged: 0 });
      await db.sql.query(`ALTER TABLE notification_batches DROP CONSTRAINT refuse_all`);
      await drained(db.sql);
      expect(await expectEveryChangeOnce(db.sql)).toBe(50);
    } finally {
      await t.close();
      await db.drop();
    }
  }, 60_000);
});

describe('large rows', () => {
  it('drains in batches bounded by bytes, at least one row each, every change once', async () => {
    const db = await createTestDatabase();
    const t = await createTestApp({ db, env: { CAPTURE_BATCH_BYTES: '100000' } });
    try {
      await db.sql.query(`CREATE TABLE blobs (id int PRIMARY KEY, body text)`);
      await db.sql.query(`SELECT capture.enable('blobs')`);
      // 30 rows of about 60 kB that do not compress (random hex), one of 300 kB: one transaction.
      await db.sql.query(
        `INSERT INTO blobs SELECT g, (SELECT string_agg(md5(random()::text || g || i), '')
                                     FROM generate_series(1, CASE WHEN g = 1 THEN 9400 ELSE 1900 END) i)
         FROM generate_series(1, 31) g`,
      );
      await drained(db.sql);
      await expectEveryChangeOnce(db.sql);
      const status = t.app.get(LogDrainer).getStatus();
      expect(status.largestBatch).toBeGreaterThanOrEqual(1);
      expect(status.largestBatch).toBeLessThan(31);
    } finally {
      await t.close();
      await db.drop();
    }
  }, 60_000);
});

describe('two instances on one database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('persists each change once, and the standby takes over when the drainer goes', async () => {
    const a = await createTestApp({ db });
    const b = await createTestApp({ db });
    const drainer = await waitFor(() => {
      const [sa, sb] = [a, b].map((t) => t.app.get(LogDrainer).getStatus());
      return sa.draining !== sb.draining ? (sa.draining ? a : b) : undefined;
    }, { what: 'exactly one drainer' });
    const standby = drainer === a ? b : a;
    try {
      await burst(db.sql, { writers: 4, transactions: 100 });
      await drained(db.sql);
      await expectEveryChangeOnce(db.sql);

      await drainer.close();
      await waitFor(() => standby.app.get(LogDrainer).getStatus().draining, { timeout: 10_000, what: 'the takeover' });
      await burst(db.sql, { writers: 2, transactions: 100 });
      await drained(db.sql);
      expect(await expectEveryChangeOnce(db.sql)).toBeGreaterThan(600);
    } finally {
      await standby.close();
      if (drainer !== a && drainer !== b) await drainer.close();
    }
  }, 120_000);
});
