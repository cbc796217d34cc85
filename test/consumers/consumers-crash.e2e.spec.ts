import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceivedMessages, SettledLeases } from '../../client/src/protocol.js';
import { createTestApp, TestApp } from '../support/app.js';
import { CrashablePostgres, writeThroughCrashes } from '../support/crashable-postgres.js';
import { watchLeases } from '../support/consumers.js';
import { waitFor } from '../support/wait.js';

/** PostgreSQL crash-restarted while workers pull from a consumer group and writers write. */
describe('a pull consumer group across a PostgreSQL crash', () => {
  let server: CrashablePostgres;
  let t: TestApp | undefined;

  beforeAll(async () => {
    server = await CrashablePostgres.start();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await server?.stop();
  });

  it('handles every change once in effect, per row in log order, with no overlap', async () => {
    t = await createTestApp({ db: server.db, listen: true });
    const app = t;
    await app.http.post('/consumers').send({ name: 'survivor', tables: ['invoices'], ackWaitMs: 1000, maxDeliver: null }).expect(201);
    const { rows } = await server.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'PGC-' || g FROM generate_series(1, 10) g RETURNING id`);
    const ids = rows.map((row) => row.id as string);

    /** A POST's answer, or undefined while the database (or the app's connection to it) is down. */
    const post = async <T>(path: string, body: unknown): Promise<T | undefined> => {
      const response = await fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
      return response?.ok ? ((await response.json()) as T) : undefined;
    };
    // Writers: each row updated 40 times, one transaction each; a write cut off by the crash is tried again.
    const writers = ids.map((id) => writeThroughCrashes(server.url, 40, (client) => client.query(`UPDATE invoices SET invoice_no = invoice_no || '.' WHERE id = $1`, [id])));

    const handled = new Map<string, bigint[]>();
    const done = new Set<string>();
    /** Rows being handled, with when their lease ends: a second lease of a row before then would be an overlap (after it, the lease expired). */
    const busy = new Map<string, number>();
    let overlaps = 0;
    const leases = watchLeases(server.db.sql);
    let stop = false;
    const workers = [0, 1, 2, 3].map(async () => {
      while (!stop) {
        const received = await post<ReceivedMessages>('/consumers/survivor/receive', { max: 5, waitMs: 200 });
        if (!received) await new Promise((resolve) => setTimeout(resolve, 50));
        for (const message of received?.messages ?? []) {
          const row = String(message.notification.payload.pk?.id);
          if ((busy.get(row) ?? 0) > Date.now()) overlaps++;
          busy.set(row, new Date(message.leasedUntil).getTime());
          await new Promise((resolve) => setImmediate(resolve)); // the work
          busy.delete(row); // done: from its ack on, the row's next change may be leased
          // Acked until an answer; `unknown` after a failed try may have taken effect (and if not, it comes again).
          let failed = false;
          for (;;) {
            const settled = await post<SettledLeases>('/consumers/survivor/ack', { leaseIds: [message.leaseId] });
            if (!settled) {
              failed = true;
              await new Promise((resolve) => setTimeout(resolve, 50));
              continue;
            }
            if ((settled.done.length || failed) && !done.has(message.notification.id)) {
              done.add(message.notification.id);
              handled.set(row, [...(handled.get(row) ?? []), BigInt(message.notification.id)]);
            }
            break;
          }
        }
      }
    });

    await waitFor(() => done.size >= 100, { timeout: 30_000, what: '100 changes handled before the crash' });
    await server.crash();
    await server.restart();
    await Promise.all(writers);
    const { rows: expected } = await server.db.sql.query(`SELECT count(*)::int AS n FROM capture.changes WHERE table_name = 'invoices' AND row_pk->>'id' = ANY ($1)`, [ids]);
    expect(expected[0].n).toBe(410);
    await waitFor(() => done.size === 410, { timeout: 90_000, what: `all 410 changes handled (have ${done.size})` });
    stop = true;
    await Promise.all(workers);

    expect(overlaps).toBe(0);
    expect(await leases.stop()).toEqual([]);
    for (const [row, order] of handled) expect(order, row).toEqual([...order].sort((a, b) => (a < b ? -1 : 1)));
    const group = (await app.http.get('/consumers/survivor').expect(200)).body;
    expect(group).toMatchObject({ pending: 0, inFlight: 0, deadLetters: 0 });
  }, 180_000);
});
