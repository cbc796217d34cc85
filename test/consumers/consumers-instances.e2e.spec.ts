import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumerMessage, ReceivedMessages, SettledLeases } from '../../client/src/protocol.js';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { watchLeases } from '../support/consumers.js';
import { waitFor } from '../support/wait.js';

/**
 * One consumer group served by two instances, one of them stopped and started again while
 * workers pull through both: every change is handled, one change of a row at a time, in log order.
 */
describe('a pull consumer group on two instances, one restarted', () => {
  let db: TestDatabase;
  const apps: (TestApp | undefined)[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    apps.push(await createTestApp({ db, listen: true }), await createTestApp({ db, listen: true }));
  });
  afterAll(async () => {
    for (const app of apps) await app?.close();
    await db.drop();
  });

  /** POST to instance `i`, or undefined when it is down or answers with an error. */
  async function post<T>(i: number, path: string, body: unknown): Promise<T | undefined> {
    const app = apps[i];
    if (!app) return undefined;
    try {
      const response = await fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return response.ok ? ((await response.json()) as T) : undefined;
    } catch {
      return undefined; // closing, or closed
    }
  }

  it('handles every change once in effect, per row in log order, with no overlap', async () => {
    await apps[0]!.http.post('/consumers').send({ name: 'shared', tables: ['invoices'], ackWaitMs: 1000, maxDeliver: null }).expect(201);
    const { rows } = await db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'TWO-' || g FROM generate_series(1, 8) g RETURNING id`);
    const ids = rows.map((row) => row.id as string);
    let writing = true;
    const writer = (async () => {
      for (let round = 0; writing && round < 40; round++) {
        await db.sql.query(`UPDATE invoices SET invoice_no = invoice_no || '.' WHERE id = ANY ($1::uuid[])`, [ids]);
      }
    })();

    const handled = new Map<string, bigint[]>(); // row → ids, in the order handled
    const done = new Set<string>();
    /** Rows being handled, with when their lease ends: a second lease of a row before then would be an overlap (after it, the lease expired). */
    const busy = new Map<string, number>();
    let overlaps = 0;
    const leases = watchLeases(db.sql);
    let stop = false;
    const worker = async (w: number) => {
      for (let call = 0; !stop; call++) {
        const instance = (w + call) % 2;
        const received = await post<ReceivedMessages>(instance, '/consumers/shared/receive', { max: 5, waitMs: 200 });
        for (const message of received?.messages ?? []) {
          const row = String(message.notification.payload.pk?.id);
          if ((busy.get(row) ?? 0) > Date.now()) overlaps++;
          busy.set(row, new Date(message.leasedUntil).getTime());
          await new Promise((resolve) => setImmediate(resolve)); // the work
          busy.delete(row); // done: from its ack on, the row's next change may be leased
          await settle(instance, message, row);
        }
      }
    };
    /** Acks through either instance until one answers; an ack that answered `unknown` after a failed try may have taken effect. */
    const settle = async (instance: number, message: ConsumerMessage, row: string) => {
      let failed = false;
      for (let attempt = 0; ; attempt++) {
        const settled = await post<SettledLeases>((instance + attempt) % 2, '/consumers/shared/ack', { leaseIds: [message.leaseId] });
        if (!settled) {
          failed = true;
          continue;
        }
        if (settled.done.length || failed) {
          if (!done.has(message.notification.id)) handled.set(row, [...(handled.get(row) ?? []), BigInt(message.notification.id)]);
          done.add(message.notification.id);
        }
        return;
      }
    };
    const workers = [0, 1, 2, 3, 4, 5].map(worker);

    await waitFor(() => done.size >= 100, { timeout: 30_000, what: '100 changes handled before the restart' });
    const stopped = apps[1]!;
    apps[1] = undefined;
    await stopped.close();
    apps[1] = await createTestApp({ db, listen: true });
    writing = false;
    await writer;
    const { rows: expected } = await db.sql.query(`SELECT count(*)::int AS n FROM capture.changes WHERE table_name = 'invoices' AND row_pk->>'id' = ANY ($1)`, [ids]);
    await waitFor(() => done.size === expected[0].n, { timeout: 60_000, what: `all ${expected[0].n} changes handled (have ${done.size})` });
    stop = true;
    await Promise.all(workers);

    expect(overlaps).toBe(0);
    expect(await leases.stop()).toEqual([]);
    for (const [row, order] of handled) expect(order, row).toEqual([...order].sort((a, b) => (a < b ? -1 : 1)));
    const group = (await apps[0]!.http.get('/consumers/shared').expect(200)).body;
    expect(group).toMatchObject({ pending: 0, inFlight: 0, deadLetters: 0 });
  }, 90_000);
});
