import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../../test/support/app.js';
import { waitFor } from '../../test/support/wait.js';
import { RowcastClient, type Notification } from '../src/index.js';
import { drained } from './support.js';

describe('RowcastClient.consume', () => {
  let t: TestApp;
  let client: RowcastClient;
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    client = new RowcastClient({ url: t.url });
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it('runs the handler once per change, one change of a row at a time, retries a throw, extends a long one, and stops cleanly', async () => {
    await t.http.post('/consumers').send({ name: 'client-workers', tables: ['invoices'], ackWaitMs: 1000, maxDeliver: null }).expect(201);
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'CW-' || g FROM generate_series(1, 30) g RETURNING id`);
    const ids = rows.map((row) => row.id as string);
    for (let round = 0; round < 3; round++) await t.db.sql.query(`UPDATE invoices SET invoice_no = invoice_no || '+' WHERE id = ANY ($1::uuid[])`, [ids]);
    const logIds = (await drained(t.db.sql)).filter(Boolean);
    const expected = (await t.db.sql.query(`SELECT id::text FROM notifications WHERE table_name = 'invoices' AND payload->'pk'->>'id' = ANY ($1) ORDER BY id`, [ids])).rows.map(
      (row) => row.id as string,
    );
    expect(expected).toHaveLength(120);
    expect(logIds.length).toBeGreaterThanOrEqual(120);

    const handled: Notification[] = [];
    const busy = new Set<string>();
    let overlaps = 0;
    const thrown = new Set<string>();
    const long = expected[7];
    let longDeliveries = 0;
    const errors: unknown[] = [];
    const handler = async (notification: Notification, message: { deliveries: number }) => {
      const row = String(notification.payload.pk?.id);
      if (busy.has(row)) overlaps++;
      busy.add(row);
      try {
        if (notification.id === long) {
          longDeliveries = Math.max(longDeliveries, message.deliveries);
          // Past the 1 s lease: the worker extends it, so it is not delivered again meanwhile.
          const until = Date.now() + 2500;
          await waitFor(() => Date.now() > until, { timeout: 5000, what: 'the long handler' });
        }
        if (Number(notification.id) % 10 === 3 && !thrown.has(notification.id)) {
          thrown.add(notification.id);
          throw new Error(`failing ${notification.id} once`);
        }
        handled.push(notification);
      } finally {
        busy.delete(row);
      }
    };
    const stopping = new AbortController();
    const workers = [
      client.consume('client-workers', handler, { concurrency: 8, waitMs: 1000, signal: stopping.signal, onError: (error) => errors.push(error) }),
      client.consume('client-workers', handler, { concurrency: 8, waitMs: 1000, signal: stopping.signal, onError: (error) => errors.push(error) }),
    ];
    await waitFor(() => handled.length >= 120, { timeout: 30_000, what: `every change handled (${handled.length})` });
    stopping.abort();
    await Promise.all(workers.map((worker) => worker.done));

    expect(overlaps).toBe(0);
    expect(handled.map((n) => n.id).sort()).toEqual([...expected].sort());
    expect(longDeliveries).toBe(1);
    // The only errors: the handlers' own throws.
    expect(errors.map((error) => (error as Error).message).sort()).toEqual([...thrown].map((id) => `failing ${id} once`).sort());
    const group = (await t.http.get('/consumers/client-workers').expect(200)).body;
    expect(group).toMatchObject({ pending: 0, inFlight: 0, deadLetters: 0 });
  }, 60_000);
});
