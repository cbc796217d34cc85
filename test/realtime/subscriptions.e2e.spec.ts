import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionsService } from '../../src/realtime/subscriptions.service.js';
import { createTestApp, TestApp } from '../support/app.js';
import { Ack, connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';

/** A subscribe as a client sends it, and the log's matching rows as SQL selects them. */
interface Case {
  request: { tables?: string[]; events?: string[]; since?: string };
  where: string;
}

/**
 * Several subscriptions on one connection, each resuming from its own `since`: a client written
 * from the AsyncAPI document alone (raw socket.io-client, one `lastId` per subscription).
 */
describe('WebSocket subscriptions, each with its own position', () => {
  let t: TestApp;
  let sql: pg.Pool;
  const clients: TestClient[] = [];
  /** Ids of the log before the writer starts, oldest first. */
  let prefilled: string[];
  let writing = false;
  let writer: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    sql = t.db.sql;
    // About 2,400 notifications: several replay pages (500) for a low since.
    for (let round = 0; round < 40; round++) {
      await sql.query(`INSERT INTO invoices (invoice_no) SELECT 'PRE-${round}-' || g FROM generate_series(1, 20) g`);
      await sql.query(
        `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit)
         SELECT id, 1, 10 FROM invoices WHERE invoice_no LIKE 'PRE-${round}-%'`,
      );
    }
    await waitFor(async () => (await drainedCount()) === (await journalCount()), { timeout: 30_000, what: 'the prefill to be drained' });
    const { rows } = await sql.query<{ id: string }>(`SELECT n.id::text AS id FROM notifications n ORDER BY n.id`);
    prefilled = rows.map((row) => row.id);
  });
  afterEach(async () => {
    writing = false;
    await writer;
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => t.close());

  const drainedCount = async () => (await sql.query(`SELECT count(*)::int AS n FROM notifications`)).rows[0].n as number;
  const journalCount = async () => (await sql.query(`SELECT count(*)::int AS n FROM capture.changes`)).rows[0].n as number;

  /** Writes go on (an invoice and its item per round, by plain SQL) until the test ends them. */
  function startWriting(): void {
    writing = true;
    writer = (async () => {
      for (let i = 0; writing; i++) {
        const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [`LIVE-${Date.now()}-${i}`]);
        await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 5)`, [rows[0].id]);
      }
    })();
  }

  async function stopWriting(): Promise<void> {
    writing = false;
    await writer;
    await waitFor(async () => (await drainedCount()) === (await journalCount()), { timeout: 30_000, what: 'the writes to be drained' });
  }

  const at = (fraction: number) => prefilled[Math.floor(prefilled.length * fraction)];
  const cases = (): Case[] => [
    { request: { tables: ['invoices'], since: at(0.8) }, where: `table_name = 'invoices'` },
    { request: { tables: ['invoice_items'], since: at(0.1) }, where: `table_name = 'invoice_items'` },
    { request: { events: ['invoices.created'], since: at(0.5) }, where: `event = 'invoices.created'` },
    { request: { since: at(0.3) }, where: 'true' },
    { request: { tables: ['invoice_items'] }, where: `table_name = 'invoice_items'` },
  ];

  /**
   * Every acked subscription got exactly the log's matching notifications after its cursor, in
   * ascending order, each once, whatever the others on the connection did.
   */
  async function expectExact(c: TestClient, subscribed: { case: Case; ack: Ack }[]): Promise<void> {
    for (const { case: { request, where }, ack } of subscribed) {
      expect(ack, JSON.stringify(request)).toMatchObject({ ok: true, cursor: request.since ?? expect.stringMatching(/^\d+$/) });
      const { rows } = await sql.query<{ id: string }>(`SELECT n.id::text AS id FROM notifications n WHERE ${where} AND n.id > $1 ORDER BY n.id`, [
        ack.cursor,
      ]);
      const expected = rows.map((row) => row.id);
      expect(expected.length).toBeGreaterThan(0);
      await waitFor(() => c.receivedFor(ack.subscriptionId!).some((n) => n.id === expected.at(-1)), {
        timeout: 30_000,
        what: `${JSON.stringify(request)} to reach ${expected.at(-1)} (has ${c.receivedFor(ack.subscriptionId!).length} of ${expected.length})`,
      });
      expect(c.receivedFor(ack.subscriptionId!).map((n) => n.id), JSON.stringify(request)).toEqual(expected);
    }
  }

  it('serves each since on its own when the subscribes are sent one after another, awaiting each ack, while writes go on', async () => {
    const c = await connectClient(t.url);
    clients.push(c);
    startWriting();
    const subscribed = [];
    for (const each of cases()) {
      subscribed.push({ case: each, ack: await c.subscribe(each.request) });
      // Let the ones before it deliver (replay, then live) before the next, lower since arrives.
      await waitFor(() => c.received.length > 0, { what: 'a first notification' });
    }
    await stopWriting();
    await expectExact(c, subscribed);
  }, 60_000);

  it('serves each since on its own when the subscribes are pipelined (sent together)', async () => {
    const c = await connectClient(t.url);
    clients.push(c);
    startWriting();
    const all = cases();
    const acks = await Promise.all(all.map((each) => c.subscribe(each.request)));
    await stopWriting();
    await expectExact(
      c,
      all.map((each, i) => ({ case: each, ack: acks[i] })),
    );
  }, 60_000);

  it('serves a lower since sent during another subscription’s replay, and a refused subscribe changes nothing', async () => {
    const c = await connectClient(t.url);
    clients.push(c);
    startWriting();
    const [high, low, ...rest] = cases();
    // The others are sent the moment the first replay's first notification arrives: during it.
    const sentDuringReplay = new Promise<Ack[]>((resolve) => {
      c.socket.once('notification', () => {
        const refused = c.subscribe({ tables: ['nosuch'], since: at(0.05) });
        resolve(Promise.all([refused, ...[high, ...rest].map((each) => c.subscribe(each.request))]));
      });
    });
    const first = { case: low, ack: await c.subscribe(low.request) };
    const [refused, ...acks] = await sentDuringReplay;
    expect(refused).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('nosuch') } });
    const others = [high, ...rest].map((each, i) => ({ case: each, ack: acks[i] }));
    await stopWriting();
    await expectExact(c, [first, ...others]);
  }, 60_000);

  it('names every matching subscription in one message, and only those', async () => {
    const c = await connectClient(t.url);
    clients.push(c);
    const invoices = await c.subscribe({ tables: ['invoices'] });
    const created = await c.subscribe({ events: ['invoices.created'] });
    const items = await c.subscribe({ tables: ['invoice_items'] });
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('NAMES-1') RETURNING id`);
    await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 1)`, [rows[0].id]);
    await waitFor(() => c.received.some((n) => n.event === 'invoice_items.created'), { what: 'the item' });
    await waitFor(() => c.received.some((n) => n.event === 'invoices.updated'), { what: 'the total' });
    const byEvent = Object.fromEntries(c.received.map((n) => [n.event, [...n.subscriptionIds].sort()]));
    expect(byEvent).toEqual({
      'invoices.created': [invoices.subscriptionId, created.subscriptionId].sort(),
      'invoice_items.created': [items.subscriptionId],
      'invoices.updated': [invoices.subscriptionId],
    });
    expect(c.received.map((n) => n.event).filter((event) => event === 'invoices.created')).toHaveLength(1);
  });

  it('sends nothing more for a subscription once its unsubscribe is acked, even halfway through its replay', async () => {
    const c = await connectClient(t.url);
    clients.push(c);
    const unsubscribed = new Promise<{ ack: Ack; receivedBefore: number }>((resolve) => {
      c.socket.once('notification', (first: { subscriptionIds: string[] }) => {
        const [subscriptionId] = first.subscriptionIds;
        void c.unsubscribe({ subscriptionId }).then((ack) => resolve({ ack, receivedBefore: c.receivedFor(subscriptionId).length }));
      });
    });
    const replaying = await c.subscribe({ since: '0' });
    const { ack, receivedBefore } = await unsubscribed;
    expect(ack).toEqual({ ok: true });
    expect(receivedBefore).toBeLessThan(prefilled.length);
    // Everything sent before the next subscription's first message is in: the connection is ordered.
    const after = await c.subscribe({ tables: ['invoices'] });
    await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('AFTER-UNSUBSCRIBE')`);
    await waitFor(() => c.receivedFor(after.subscriptionId!).length > 0, { what: 'the next subscription’s notification' });
    expect(c.receivedFor(replaying.subscriptionId!)).toHaveLength(receivedBefore);
  });

  it('tells a subscription that matched nothing where it is (checkpoint), and it resumes from there', async () => {
    const c = await connectClient(t.url);
    clients.push(c);
    const busy = await c.subscribe({ tables: ['invoices'] });
    const idle = await c.subscribe({ events: ['invoice_items.deleted'] });
    for (let i = 0; i < 3; i++) await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`CHECKPOINT-${i}`]);
    await waitFor(() => c.receivedFor(busy.subscriptionId!).length === 3, { what: 'the three invoices' });
    const last = c.received.at(-1)!.id;
    // (The service's own timer may send one too: what counts is the newest.)
    t.app.get(SubscriptionsService).checkpoint();
    await waitFor(() => c.checkpoints.at(-1)?.id === last, { what: `a checkpoint at ${last}` });
    // The busy one's last notification is its position already: only the idle one is named.
    expect(c.checkpoints.at(-1)).toEqual({ subscriptionIds: [idle.subscriptionId], id: last });
    expect(c.checkpoints.every((checkpoint) => !checkpoint.subscriptionIds.includes(busy.subscriptionId!))).toBe(true);
    const told = c.checkpoints.length;
    t.app.get(SubscriptionsService).checkpoint();
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('CHECKPOINT-marker') RETURNING id`);
    await waitFor(() => c.receivedFor(busy.subscriptionId!).some((n) => n.payload.new?.id === rows[0].id), { what: 'the marker' });
    expect(c.checkpoints).toHaveLength(told); // nothing new to say: nothing was pushed in between
    // Resumed elsewhere from the checkpoint: what it wants after that, nothing before.
    const resumed = await connectClient(t.url);
    clients.push(resumed);
    const ack = await resumed.subscribe({ events: ['invoice_items.deleted'], since: last });
    expect(ack).toMatchObject({ ok: true, cursor: last });
    const { rows: items } = await sql.query(
      `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 1) RETURNING id`,
      [rows[0].id],
    );
    await sql.query(`DELETE FROM invoice_items WHERE id = $1`, [items[0].id]);
    await waitFor(() => resumed.received.length > 0, { what: 'the deletion' });
    expect(resumed.received.map((n) => n.event)).toEqual(['invoice_items.deleted']);
  });
});
