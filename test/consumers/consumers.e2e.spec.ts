import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../../client/src/protocol.js';
import { createTestApp, TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

interface Message {
  leaseId: string;
  deliveries: number;
  leasedUntil: string;
  notification: Notification;
}

/**
 * Pull consumer groups as a worker written from the OpenAPI document uses them: plain HTTP
 * (fetch), receive with a long poll, settle each lease.
 */
describe('pull consumer groups', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
  });
  afterAll(() => t.close());

  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${t.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  }

  const receive = async (name: string, max: number, waitMs = 0) => {
    const response = await call<{ messages: Message[] }>('POST', `/consumers/${name}/receive`, { max, waitMs });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.messages;
  };
  const settle = async (name: string, verb: 'ack' | 'nack' | 'extend' | 'term', leaseIds: string[], extra: object = {}) =>
    (await call<{ done: string[]; unknown: string[] }>('POST', `/consumers/${name}/${verb}`, { leaseIds, ...extra })).body;

  async function invoices(count: number, prefix: string): Promise<string[]> {
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT $1 || g FROM generate_series(1, $2::int) g RETURNING id`, [prefix, count]);
    return rows.map((row) => row.id as string);
  }

  it('gives each change to one worker at a time per row, in log order, while workers run in parallel, die and nack', async () => {
    // Leases long enough that only the workers that die let one expire: a worker acks its five one
    // request at a time, which took over a second with the suite's other files on two cores.
    const ackWaitMs = 3000;
    expect((await call('POST', '/consumers', { name: 'workers', tables: ['invoices'], ackWaitMs, maxDeliver: null })).status).toBe(201);
    const ids = await invoices(20, 'PULL-');
    // 20 rows × 10 updates each, by many small transactions: chains of changes per row.
    for (let round = 0; round < 10; round++) {
      await t.db.sql.query(`UPDATE invoices SET invoice_no = invoice_no || '.' WHERE id = ANY ($1::uuid[])`, [ids]);
    }
    const { rows } = await t.db.sql.query(`SELECT count(*)::int AS n FROM capture.changes c WHERE c.table_name = 'invoices' AND c.row_pk->>'id' = ANY ($1)`, [ids]);
    expect(rows[0].n).toBe(220);
    await waitFor(async () => (await t.db.sql.query(`SELECT count(*)::int AS n FROM notifications WHERE table_name = 'invoices'`)).rows[0].n >= 220, {
      what: 'the changes in the log',
    });

    const acked: Notification[] = [];
    const inFlight = new Map<string, number>(); // row → when its lease runs out (the server's clock)
    let overlaps = 0;
    let died = 0;
    let nacked = 0;
    let step = 0;
    const worker = async () => {
      while (acked.length < 220) {
        const messages = await receive('workers', 5, 500);
        for (const message of messages) {
          const row = String(message.notification.payload.pk?.id);
          // Two leases of one row at once: the new one starts (its end − ackWaitMs) before the held
          // one runs out. A held lease that ran out (a slow worker on a loaded machine) is the
          // group's to give again: that is no overlap.
          const until = Date.parse(String(message.leasedUntil));
          const held = inFlight.get(row);
          if (held !== undefined && until - ackWaitMs < held) overlaps++;
          inFlight.set(row, until);
        }
        await new Promise((resolve) => setImmediate(resolve));
        for (const message of messages) {
          const row = String(message.notification.payload.pk?.id);
          const fate = step++ % 37;
          if (fate === 3 && died < 3) {
            // A worker that dies: its lease is never settled, and expires.
            died++;
            inFlight.delete(row);
            continue;
          }
          inFlight.delete(row);
          if (fate === 5 && nacked < 5) {
            nacked++;
            expect((await settle('workers', 'nack', [message.leaseId], { delayMs: 50 })).done).toEqual([message.leaseId]);
            continue;
          }
          const { done } = await settle('workers', 'ack', [message.leaseId]);
          if (done.length) acked.push(message.notification);
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);

    expect(overlaps).toBe(0);
    expect(died).toBe(3);
    expect(nacked).toBe(5);
    // Each change once, each row's changes in log order.
    const byRow = new Map<string, bigint[]>();
    for (const n of acked) {
      const row = String(n.payload.pk?.id);
      byRow.set(row, [...(byRow.get(row) ?? []), BigInt(n.id)]);
    }
    expect(new Set(acked.map((n) => n.id)).size).toBe(220);
    for (const [row, order] of byRow) {
      expect(order, row).toEqual([...order].sort((a, b) => (a < b ? -1 : 1)));
      expect(order).toHaveLength(11);
    }
    const { body: group } = await call<{ pending: number; inFlight: number; lag: { ids: number; seconds: number } }>('GET', '/consumers/workers');
    expect(group).toMatchObject({ pending: 0, inFlight: 0, lag: { ids: 0, seconds: 0 } });
    // /metrics: this instance's counts at once; the group's standing within a reading (every 5 s).
    const metric = async (name: string) => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      return Number(new RegExp(`^${name}\\{group="workers"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    };
    expect(await metric('rowcast_consumer_acks_total')).toBe(220);
    expect(await metric('rowcast_consumer_nacks_total')).toBe(5);
    expect(await metric('rowcast_consumer_redeliveries_total')).toBe(8);
    expect(await metric('rowcast_consumer_deliveries_total')).toBe(228);
    await waitFor(async () => (await metric('rowcast_consumer_in_flight')) === 0 && (await metric('rowcast_consumer_lag_notifications')) === 0, {
      what: 'the group caught up in /metrics',
    });
    // A late ack of a lease that was delivered again is unknown, not an error.
    expect(await settle('workers', 'ack', ['00000000-0000-4000-8000-000000000000'])).toEqual({ done: [], unknown: ['00000000-0000-4000-8000-000000000000'] });
  }, 60_000);

  it('answers a long poll as soon as a change commits', async () => {
    expect((await call('POST', '/consumers', { name: 'poller', tables: ['invoices'] })).status).toBe(201);
    const started = Date.now();
    const polling = receive('poller', 10, 20_000);
    // The poll is waiting (nothing is there); then a change commits.
    expect(await receive('poller', 10)).toEqual([]);
    await invoices(1, 'POLL-');
    const messages = await polling;
    expect(messages.map((m) => m.notification.event)).toEqual(['invoices.created']);
    expect(Date.now() - started).toBeLessThan(20_000);
    await settle('poller', 'ack', messages.map((m) => m.leaseId));
  });

  it("acknowledges what a receive carries before it leases: a row's next change in the same answer", async () => {
    expect((await call('POST', '/consumers', { name: 'carried', tables: ['invoices'] })).status).toBe(201);
    const [id] = await invoices(1, 'CARRY-');
    await t.db.sql.query(`UPDATE invoices SET invoice_no = 'CARRY-1b' WHERE id = $1`, [id]);
    await waitFor(async () => (await t.db.sql.query(`SELECT count(*)::int AS n FROM notifications WHERE entity_id = $1`, [id])).rows[0].n === 2, { what: 'both changes in the log' });
    // Per-row order: the update waits for the creation's ack.
    const [created] = await receive('carried', 10, 5000);
    expect(created.notification.event).toBe('invoices.created');
    expect(await receive('carried', 10)).toEqual([]);
    const response = await call<{ messages: Message[]; acked: { done: string[]; unknown: string[] } }>('POST', '/consumers/carried/receive', {
      max: 10,
      ack: [created.leaseId, '00000000-0000-4000-8000-000000000000'],
    });
    expect(response.status).toBe(200);
    expect(response.body.acked).toEqual({ done: [created.leaseId], unknown: ['00000000-0000-4000-8000-000000000000'] });
    expect(response.body.messages.map((m) => m.notification.event)).toEqual(['invoices.updated']);
    // Without ack, no acked in the answer.
    expect((await call<object>('POST', '/consumers/carried/receive', { max: 10 })).body).toEqual({ messages: [] });
    await settle('carried', 'ack', response.body.messages.map((m) => m.leaseId));
  });

  it('leaves out a journal row the log cannot read, as every reader does, and says so in the group, not as retention', async () => {
    expect((await call('POST', '/consumers', { name: 'unreadable', tables: ['invoices'] })).status).toBe(201);
    // A schema change whose `new` is not {command, before, after}: the drainer takes it (its shape
    // check passes), the journal parser refuses it. Then a change as the triggers write it.
    await t.db.sql.query(`INSERT INTO capture.changes (schema_name, table_name, op, new, actor) VALUES ('public', 'invoices', 'SCHEMA_CHANGE', '{"hand": "written"}', 'hand')`);
    const [id] = await invoices(1, 'UNREADABLE-');
    const messages = await receive('unreadable', 10, 5000);
    expect(messages.map((m) => [m.notification.event, m.notification.payload.pk])).toEqual([['invoices.created', { id }]]);
    await settle('unreadable', 'ack', [messages[0].leaseId]);
    const group = (await call<{ lastError: string; pending: number; inFlight: number }>('GET', '/consumers/unreadable')).body;
    expect(group.lastError).toMatch(/^notifications \d+ have journal rows the log leaves out/);
    expect(group.lastError).not.toMatch(/retention/);
    expect(group).toMatchObject({ pending: 0, inFlight: 0 });
  });

  it('lets a nack, extension or term beside a seek wait for it, not deadlock with it', async () => {
    expect((await call('POST', '/consumers', { name: 'beside-seek', tables: ['invoices'] })).status).toBe(201);
    await invoices(3, 'BESIDE-SEEK-');
    const leased = await receive('beside-seek', 3, 5000);
    expect(leased).toHaveLength(3);
    for (const [verb, message] of [['nack', leased[0]], ['extend', leased[1]], ['term', leased[2]]] as const) {
      // A seek's transaction, held open between its two steps: the group's row locked, then its batches deleted.
      const seek = new pg.Client({ connectionString: t.db.url });
      const settle = new pg.Client({ connectionString: t.db.url });
      await Promise.all([seek.connect(), settle.connect()]);
      try {
        const [{ pid }] = (await settle.query('SELECT pg_backend_pid() AS pid')).rows;
        await seek.query('BEGIN');
        const [{ id }] = (await seek.query(`SELECT id FROM consumer_groups WHERE name = 'beside-seek' FOR UPDATE`)).rows;
        const settling = settle.query(`SELECT lease_id FROM consumer_settle('beside-seek', $1, ARRAY[$2]::uuid[], NULL, NULL)`, [verb, message.leaseId]);
        await waitFor(async () => (await t.db.sql.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid])).rows[0]?.wait_event_type === 'Lock', {
          what: `the ${verb} waiting for the seek`,
        });
        await seek.query(`DELETE FROM consumer_leases WHERE group_id = $1`, [id]);
        await seek.query('COMMIT');
        // The seek forgot the lease: the settle, once it runs, finds nothing to settle.
        expect((await settling).rows, verb).toEqual([]);
      } finally {
        await seek.query('ROLLBACK').catch(() => undefined);
        await Promise.all([seek.end(), settle.end()]);
      }
    }
  });

  it('dead-letters after maxDeliver and on term, lists, redelivers and purges them', async () => {
    expect((await call('POST', '/consumers', { name: 'fragile', tables: ['invoices'], maxDeliver: 2, order: 'none' })).status).toBe(201);
    await invoices(2, 'DL-');
    const first = await receive('fragile', 10, 5000);
    expect(first).toHaveLength(2);
    const [a, b] = first;
    expect((await settle('fragile', 'term', [b.leaseId], { reason: 'not ours' })).done).toEqual([b.leaseId]);
    expect((await settle('fragile', 'nack', [a.leaseId])).done).toEqual([a.leaseId]);
    const again = await receive('fragile', 10, 5000);
    expect(again.map((m) => [m.notification.id, m.deliveries])).toEqual([[a.notification.id, 2]]);
    await settle('fragile', 'nack', [again[0].leaseId]);
    expect(await receive('fragile', 10)).toEqual([]);
    const { body: dead } = await call<{ notificationId: string; deliveries: number; lastError: string }[]>('GET', '/consumers/fragile/dead-letters');
    expect(dead.map((d) => [d.notificationId, d.lastError])).toEqual(
      [
        [a.notification.id, 'nacked'],
        [b.notification.id, 'not ours'],
      ].sort((x, y) => (BigInt(x[0]) < BigInt(y[0]) ? -1 : 1)),
    );
    expect((await call('POST', '/consumers/fragile/dead-letters/redeliver', { notificationIds: [a.notification.id] })).body).toEqual({ count: 1 });
    const redelivered = await receive('fragile', 10, 5000);
    expect(redelivered.map((m) => [m.notification.id, m.deliveries])).toEqual([[a.notification.id, 1]]);
    await settle('fragile', 'ack', [redelivered[0].leaseId]);
    expect((await call('DELETE', '/consumers/fragile/dead-letters')).body).toEqual({ count: 1 });
    expect((await call<{ deadLetters: number }>('GET', '/consumers/fragile')).body.deadLetters).toBe(0);
  });

  it('settles the messages of one receive each its own way, all at once: acked, nacked, extended, terminated, expired', async () => {
    expect((await call('POST', '/consumers', { name: 'mixed', tables: ['invoices'], order: 'none', ackWaitMs: 3000, maxDeliver: 3 })).status).toBe(201);
    await invoices(8, 'MIX-');
    const leased = await receive('mixed', 8, 5000);
    expect(leased.map((m) => m.deliveries)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    // RFC 4122 lease ids, as the contract says (a client may check them).
    for (const m of leased) expect(m.leaseId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const [acked1, acked2, nacked, extended, termed, expires, acked3, acked4] = leased;
    const results = await Promise.all([
      settle('mixed', 'ack', [acked1.leaseId, acked2.leaseId]),
      settle('mixed', 'nack', [nacked.leaseId], { delayMs: 0 }),
      settle('mixed', 'extend', [extended.leaseId]),
      settle('mixed', 'term', [termed.leaseId], { reason: 'refused' }),
      settle('mixed', 'ack', [acked3.leaseId]),
      settle('mixed', 'ack', [acked4.leaseId]),
    ]);
    expect(results.map((r) => r.unknown)).toEqual([[], [], [], [], [], []]);
    // Settling again changes nothing (idempotent): the acked and the terminated are unknown now.
    expect(await settle('mixed', 'ack', [acked1.leaseId, termed.leaseId])).toEqual({ done: [], unknown: [acked1.leaseId, termed.leaseId] });
    // The nacked one comes back at once, its second delivery; nothing else is free yet.
    const again = await receive('mixed', 8, 5000);
    expect(again.map((m) => [m.notification.id, m.deliveries])).toEqual([[nacked.notification.id, 2]]);
    expect((await settle('mixed', 'ack', [again[0].leaseId])).done).toEqual([again[0].leaseId]);
    // The one never settled comes back once its lease expires; the extended one, extended again
    // before then, is still out, and its lease id (from the first receive) still settles it.
    const deadline = new Date(expires.leasedUntil).getTime();
    await waitFor(() => Date.now() > deadline - 1000, { what: 'most of the first lease to pass' });
    expect((await settle('mixed', 'extend', [extended.leaseId])).done).toEqual([extended.leaseId]);
    const expired = await receive('mixed', 8, 5000);
    expect(expired.map((m) => [m.notification.id, m.deliveries])).toEqual([[expires.notification.id, 2]]);
    expect(await settle('mixed', 'ack', [extended.leaseId, expired[0].leaseId, expires.leaseId])).toEqual({
      done: [extended.leaseId, expired[0].leaseId],
      unknown: [expires.leaseId],
    });
    const { body: dead } = await call<{ notificationId: string; lastError: string }[]>('GET', '/consumers/mixed/dead-letters');
    expect(dead.map((d) => [d.notificationId, d.lastError])).toEqual([[termed.notification.id, 'refused']]);
    expect((await call<{ pending: number; inFlight: number }>('GET', '/consumers/mixed')).body).toMatchObject({ pending: 0, inFlight: 0 });
  }, 20_000);

  it('leases a large receive in rows of 100 and settles it a message at a time or all at once', async () => {
    expect((await call('POST', '/consumers', { name: 'large', tables: ['invoices'], order: 'none', from: 'now', maxAckPending: 1000 })).status).toBe(201);
    await invoices(250, 'LARGE-');
    await waitFor(async () => (await call<{ lag: { ids: number } }>('GET', '/consumers/large')).body.lag.ids >= 250, { what: 'the 250 changes in the log' });
    const leased = await receive('large', 1000);
    expect(leased).toHaveLength(250);
    expect(new Set(leased.map((m) => m.leaseId)).size).toBe(250);
    const { rows } = await t.db.sql.query(`SELECT cardinality(l.notification_ids) AS n FROM consumer_leases l JOIN consumer_groups g ON g.id = l.group_id WHERE g.name = 'large' ORDER BY 1`);
    expect(rows.map((row) => row.n)).toEqual([50, 100, 100]);
    // One at a time from each row, then a nack, then the rest in one call.
    for (const m of [leased[0], leased[120], leased[249]]) expect(await settle('large', 'ack', [m.leaseId])).toEqual({ done: [m.leaseId], unknown: [] });
    expect((await call<{ inFlight: number }>('GET', '/consumers/large')).body.inFlight).toBe(247);
    expect((await settle('large', 'nack', [leased[7].leaseId])).done).toEqual([leased[7].leaseId]);
    const rest = leased.filter((_, i) => ![0, 7, 120, 249].includes(i)).map((m) => m.leaseId);
    expect(await settle('large', 'ack', [...rest, leased[0].leaseId])).toEqual({ done: rest, unknown: [leased[0].leaseId] });
    const again = await receive('large', 1000, 5000);
    expect(again.map((m) => [m.notification.id, m.deliveries])).toEqual([[leased[7].notification.id, 2]]);
    await settle('large', 'ack', [again[0].leaseId]);
    expect((await call('GET', '/consumers/large')).body).toMatchObject({ pending: 0, inFlight: 0, lag: { ids: 0 } });
    expect((await t.db.sql.query(`SELECT count(*)::int AS n FROM consumer_leases l JOIN consumer_groups g ON g.id = l.group_id WHERE g.name = 'large'`)).rows[0].n).toBe(0);
  });

  it('extends a lease that is still being worked on, and seeks back to a position', async () => {
    expect((await call('POST', '/consumers', { name: 'slow', tables: ['invoices'], ackWaitMs: 1000 })).status).toBe(201);
    await invoices(1, 'SLOW-');
    const [message] = await receive('slow', 1, 5000);
    const deadline = new Date(message.leasedUntil).getTime();
    // Extended before it expires, three times: not delivered again to another receive meanwhile.
    for (let i = 0; i < 3; i++) {
      await waitFor(() => Date.now() > deadline - 700 + i * 600, { what: 'most of the lease to pass' });
      expect((await settle('slow', 'extend', [message.leaseId])).done).toEqual([message.leaseId]);
      expect(await receive('slow', 1)).toEqual([]);
    }
    expect((await settle('slow', 'ack', [message.leaseId])).done).toEqual([message.leaseId]);
    const seek = await call<{ scannedThrough: string; pending: number }>('POST', '/consumers/slow/seek', { id: String(BigInt(message.notification.id) - 1n) });
    expect(seek.status).toBe(200);
    const replayed = await receive('slow', 1, 5000);
    expect(replayed.map((m) => m.notification.id)).toEqual([message.notification.id]);
  }, 20_000);

  it('orders by chosen columns: an invoice’s items one at a time, whichever item changed', async () => {
    expect((await call('POST', '/consumers', { name: 'by-invoice', tables: ['invoice_items'], keyColumns: ['invoice_id'] })).status).toBe(201);
    const invoiceIds = await invoices(3, 'KEYCOL-');
    await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) SELECT i, 1, g FROM unnest($1::uuid[]) i, generate_series(1, 4) g`, [invoiceIds]);
    const handled = new Map<string, number[]>();
    for (let round = 0; round < 4; round++) {
      const messages = await receive('by-invoice', 100, 5000);
      // One message per invoice at a time: its lowest item change not yet acknowledged.
      expect(messages.map((m) => m.notification.payload.new?.invoice_id).sort()).toEqual([...invoiceIds].sort());
      for (const m of messages) {
        const invoice = String(m.notification.payload.new?.invoice_id);
        handled.set(invoice, [...(handled.get(invoice) ?? []), Number(m.notification.id)]);
      }
      await settle('by-invoice', 'ack', messages.map((m) => m.leaseId));
    }
    expect(await receive('by-invoice', 100)).toEqual([]);
    for (const ids of handled.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect((await call<{ keyColumns: string[] }>('GET', '/consumers/by-invoice')).body.keyColumns).toEqual(['invoice_id']);
  });

  it('answers bad input with a 4xx naming what is wrong', async () => {
    const bad: [string, string, unknown, number, RegExp][] = [
      ['POST', '/consumers', {}, 400, /name must be/],
      ['POST', '/consumers', { name: 'x', order: 'random' }, 400, /order must be one of key, none/],
      ['POST', '/consumers', { name: 'x', ackWaitMs: 10 }, 400, /ackWaitMs must not be less than 1000/],
      ['POST', '/consumers', { name: 'x', maxDeliver: 0 }, 400, /maxDeliver must not be less than 1/],
      ['POST', '/consumers', { name: 'x', backoffMs: ['1s'] }, 400, /backoffMs must be a list of waits in milliseconds/],
      ['POST', '/consumers', { name: 'x', tables: ['nosuch'] }, 400, /table nosuch is neither/],
      ['POST', '/consumers', { name: 'x', keyColumns: ['no such'] }, 400, /keyColumns must be a list of column names/],
      ['POST', '/consumers', { name: 'x', keyColumns: ['id'], order: 'none' }, 400, /keyColumns apply to order 'key' only/],
      ['POST', '/consumers', { name: 'x', from: '99999999' }, 400, /from 99999999 is after the newest notification/],
      ['POST', '/consumers', { name: 'workers' }, 409, /a consumer group named workers already exists/],
      ['GET', '/consumers/nosuch', undefined, 404, /consumer group nosuch not found/],
      ['GET', '/consumers/bad%20name', undefined, 400, /name must be a consumer group name/],
      ['POST', '/consumers/workers/receive', { max: 0 }, 400, /max must not be less than 1/],
      ['POST', '/consumers/workers/receive', { waitMs: 600000 }, 400, /waitMs must not be greater than 60000/],
      ['POST', '/consumers/workers/receive', { ack: 'x' }, 400, /ack must be a list of lease ids from receive/],
      ['POST', '/consumers/workers/receive', { ack: ['x'] }, 400, /ack must be lease ids from receive/],
      ['POST', '/consumers/workers/ack', { leaseIds: [] }, 400, /leaseIds must name at least one lease/],
      ['POST', '/consumers/workers/ack', { leaseIds: ['x'] }, 400, /leaseIds must be lease ids from receive/],
      ['POST', '/consumers/workers/nack', { leaseIds: ['00000000-0000-4000-8000-000000000000'], delayMs: -1 }, 400, /delayMs must not be less than 0/],
      ['POST', '/consumers/workers/seek', {}, 400, /give exactly one of id or at/],
      ['POST', '/consumers/workers/seek', { at: 'yesterday' }, 400, /at must be an ISO 8601 time/],
      ['POST', '/consumers/nosuch/ack', { leaseIds: ['00000000-0000-4000-8000-000000000000'] }, 404, /consumer group nosuch not found/],
    ];
    for (const [method, path, body, status, message] of bad) {
      const response = await call<{ message: string }>(method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(response.body.message, `${method} ${path}`).toMatch(message);
    }
  });
});
