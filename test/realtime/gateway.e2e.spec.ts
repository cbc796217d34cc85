import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { waitForNotifications } from '../support/notifications.js';
import { connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';

describe('WebSocket /events', () => {
  let t: TestApp;
  let sql: pg.Pool;
  const clients: TestClient[] = [];
  const client = async () => {
    const c = await connectClient(t.url);
    clients.push(c);
    return c;
  };
  /**
   * Waits until each client has received everything committed before now: a marker row on a
   * table of its own goes to every client (each holds a marker subscription), and a connection
   * delivers in order. Markers are left out of what the tests compare.
   */
  async function barrier(...watchers: TestClient[]): Promise<void> {
    for (const w of watchers) {
      if (!markerSubscribed.has(w)) {
        expect((await w.subscribe({ tables: ['markers'] })).ok).toBe(true);
        markerSubscribed.add(w);
      }
    }
    const { rows } = await sql.query(`INSERT INTO markers DEFAULT VALUES RETURNING id`);
    await Promise.all(
      watchers.map((w) =>
        waitFor(() => w.received.some((n) => n.payload.table === 'markers' && n.payload.new?.id === rows[0].id), {
          what: `marker ${rows[0].id}`,
        }),
      ),
    );
  }
  const markerSubscribed = new WeakSet<TestClient>();
  const real = (c: TestClient) => c.received.filter((n) => n.payload.table !== 'markers');

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    sql = t.db.sql;
    await sql.query(`CREATE TABLE markers (id serial PRIMARY KEY)`);
    await sql.query(`SELECT capture.enable('markers')`);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => t.close());

  it('acks a subscription and pushes a change made by direct SQL', async () => {
    const c = await client();
    const ack = await c.subscribe({ events: ['invoices.created'] });
    expect(ack).toEqual({ ok: true, subscriptionId: expect.any(String), cursor: expect.stringMatching(/^\d+$/) });
    await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WS-1')`);
    const [n] = await c.waitFor(1);
    expect(n).toEqual({
      subscriptionIds: [ack.subscriptionId],
      id: expect.stringMatching(/^\d+$/),
      event: 'invoices.created',
      createdAt: expect.any(String),
      payload: expect.objectContaining({ table: 'invoices', op: 'INSERT', new: expect.objectContaining({ invoice_no: 'WS-1' }) }),
    });
    expect(BigInt(n.id)).toBeGreaterThan(BigInt(ack.cursor!));
  });

  it('filters by exact event, event prefix, table, and where on new (or old for deletions)', async () => {
    const all = await client();
    await all.subscribe({});
    const exact = await client();
    await exact.subscribe({ events: ['invoice_items.updated'] });
    const prefix = await client();
    await prefix.subscribe({ events: ['invoice_items.*'] });
    const table = await client();
    await table.subscribe({ tables: ['invoices'] });
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WS-F') RETURNING id`);
    const invoiceId = rows[0].id;
    const where = await client();
    await where.subscribe({ tables: ['invoice_items'], where: { invoice_id: invoiceId } });

    await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 5)`, [invoiceId]);
    const { rows: other } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WS-F-other') RETURNING id`);
    await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 5)`, [other[0].id]);
    await sql.query(`UPDATE invoice_items SET quantity = 2 WHERE invoice_id = $1`, [invoiceId]);
    await sql.query(`DELETE FROM invoice_items WHERE invoice_id = $1`, [invoiceId]);
    await barrier(all, exact, prefix, table, where);

    const events = (c: TestClient) => real(c).map((n) => n.event);
    expect(events(exact)).toEqual(['invoice_items.updated']);
    expect(events(prefix)).toEqual(['invoice_items.created', 'invoice_items.created', 'invoice_items.updated', 'invoice_items.deleted']);
    expect(events(table).every((event) => event.startsWith('invoices.'))).toBe(true);
    expect(events(table).length).toBeGreaterThanOrEqual(5);
    expect(events(where)).toEqual(['invoice_items.created', 'invoice_items.updated', 'invoice_items.deleted']);
    expect(real(where).at(-1)!.payload).toMatchObject({ new: null, old: { invoice_id: invoiceId } });
  });

  it('sends a notification once to a client whose several subscriptions match it, naming them all, ids ascending', async () => {
    const c = await client();
    const acks = [await c.subscribe({ events: ['invoices.*'] }), await c.subscribe({ tables: ['invoices'] }), await c.subscribe({})];
    for (let i = 0; i < 5; i++) await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`WS-ONCE-${i}`]);
    await c.waitFor(5);
    await barrier(c);
    const ids = real(c).map((n) => BigInt(n.id));
    expect(ids.length).toBeGreaterThanOrEqual(5);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    const subscriptionIds = acks.map((ack) => ack.subscriptionId).sort();
    for (const n of real(c)) expect([...n.subscriptionIds].sort()).toEqual(subscriptionIds);
  });

  it('stops pushing after unsubscribe', async () => {
    const watcher = await client();
    await watcher.subscribe({});
    const c = await client();
    const { subscriptionId } = await c.subscribe({ events: ['invoices.created'] });
    expect(await c.unsubscribe({ subscriptionId })).toEqual({ ok: true });
    await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WS-UNSUB')`);
    await barrier(watcher, c);
    expect(real(watcher).some((n) => n.payload.new?.invoice_no === 'WS-UNSUB')).toBe(true);
    expect(real(c)).toEqual([]);
    expect(await c.unsubscribe({ subscriptionId })).toMatchObject({ ok: false, error: { code: 'UNKNOWN_SUBSCRIPTION' } });
  });

  it('replays from since, then continues live with no gap or duplicate while writes go on', async () => {
    for (let i = 0; i < 300; i++) await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`SEAM-before-${i}`]);
    await waitForNotifications(sql, 300, { where: `payload->'new'->>'invoice_no' LIKE 'SEAM-before-%'` });
    const { rows } = await sql.query(`SELECT min(id)::text AS since FROM notifications WHERE payload->'new'->>'invoice_no' LIKE 'SEAM-%'`);
    const since = (BigInt(rows[0].since) - 1n).toString();

    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`SEAM-during-${written++}`]);
    })();
    const c = await client();
    const ack = await c.subscribe({ events: ['invoices.created'], since });
    expect(ack).toMatchObject({ ok: true, cursor: since });
    await c.waitFor(600, 30_000);
    writing = false;
    await writer;

    const { rows: expected } = await sql.query(`SELECT count(*)::int AS n FROM notifications WHERE event = 'invoices.created' AND id > $1`, [since]);
    await waitForNotifications(sql, 300 + written, { where: `payload->'new'->>'invoice_no' LIKE 'SEAM-%'` });
    await c.waitFor(expected[0].n);
    await barrier(c);
    const received = real(c);
    const ids = received.map((n) => BigInt(n.id));
    expect(new Set(ids).size).toBe(ids.length); // no duplicate
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1))); // ascending
    const { rows: all } = await sql.query(
      `SELECT n.id::text AS id FROM notifications n WHERE n.event = 'invoices.created' AND n.id > $1 ORDER BY n.id`,
      [since],
    );
    expect(received.map((n) => n.id).slice(0, all.length)).toEqual(all.map((row) => row.id)); // no gap
    expect(written).toBeGreaterThan(0);
  });

  it.each([
    ['a string', 'nope', 'INVALID_REQUEST', 'JSON object'],
    ['an array', [1], 'INVALID_REQUEST', 'JSON object'],
    ['an unknown field', { foo: 1 }, 'INVALID_REQUEST', 'property foo should not exist'],
    ['events not an array', { events: 'invoices.created' }, 'INVALID_REQUEST', 'events must be a non-empty array'],
    ['a bad event name', { events: ['*.created'] }, 'INVALID_REQUEST', 'events must be a non-empty array of event names'],
    ['a table with two dots', { tables: ['a.b.c'] }, 'INVALID_REQUEST', 'tables must be a non-empty array of table names'],
    ['where not an object', { where: ['x'] }, 'INVALID_REQUEST', 'where must map'],
    ['where with an object value', { where: { a: { b: 1 } } }, 'INVALID_REQUEST', 'where must map'],
    ['since as a number', { since: 5 }, 'INVALID_REQUEST', 'since must be a notification id given as a string'],
    ['since not digits', { since: '5x' }, 'INVALID_REQUEST', 'since must be a notification id'],
    ['an oversized message', { events: Array.from({ length: 40 }, () => 'x'.repeat(500)) }, 'MESSAGE_TOO_LARGE', 'at most'],
  ])('answers subscribe with %s by an error ack', async (_what, request, code, fragment) => {
    const c = await client();
    const ack = await c.subscribe(request);
    expect(ack).toEqual({ ok: false, error: { code, message: expect.stringContaining(fragment) } });
    expect(c.socket.connected).toBe(true);
  });

  it('answers a message the protocol does not have, sent with an ack, with an error ack naming it', async () => {
    const c = await client();
    const ack = await c.socket.timeout(5_000).emitWithAck('subscrib', { tables: ['invoices'] });
    expect(ack).toEqual({ ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown event "subscrib": send subscribe or unsubscribe' } });
    expect((await c.subscribe({})).ok).toBe(true); // the connection goes on
  });

  it('answers bad unsubscribes and too many subscriptions with error acks', async () => {
    const c = await client();
    expect(await c.unsubscribe({})).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('subscriptionId') } });
    expect(await c.unsubscribe({ subscriptionId: 'x y' })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    for (let i = 0; i < 20; i++) expect((await c.subscribe({})).ok).toBe(true);
    expect(await c.subscribe({})).toMatchObject({ ok: false, error: { code: 'TOO_MANY_SUBSCRIPTIONS' } });
  });

  it('answers every malformed subscribe with INVALID_REQUEST naming the field: null, empty lists', async () => {
    const c = await client();
    for (const [request, field] of [
      [{ since: null }, 'since'],
      [{ events: null }, 'events'],
      [{ tables: null }, 'tables'],
      [{ where: null }, 'where'],
      [{ events: [] }, 'events must name at least one'],
      [{ tables: [] }, 'tables must name at least one'],
      [{ since: 7 }, 'since'],
    ] as const) {
      const ack = await c.subscribe(request);
      expect(ack, JSON.stringify(request)).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining(field) } });
    }
    expect((await c.subscribe({})).ok).toBe(true); // the connection is fine after all that
  });

  it('takes a table with or without its public schema, and refuses one nothing is known of', async () => {
    const qualified = await client();
    expect((await qualified.subscribe({ tables: ['public.invoices'] })).ok).toBe(true);
    const unknown = await qualified.subscribe({ tables: ['invoices', 'nosuch'] });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('table nosuch is neither under capture nor in the log') } });
    await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WS-PUBLIC')`);
    await barrier(qualified);
    expect(real(qualified).map((n) => n.payload.new?.invoice_no)).toEqual(['WS-PUBLIC']);
  });

  it('refuses an event name or prefix no known table has, naming the known ones', async () => {
    const c = await client();
    const typo = await c.subscribe({ events: ['invoice.*'] });
    expect(typo).toEqual({
      ok: false,
      error: { code: 'INVALID_REQUEST', message: expect.stringMatching(/^event invoice\.\* matches no event .*known: .*invoice_items\.\*.*invoices\.\*/) },
    });
    expect(await c.subscribe({ events: ['invoices.created', 'orders.deleted'] })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_REQUEST', message: expect.stringContaining('event orders.deleted matches no event') },
    });
    expect(await c.subscribe({ events: ['invoices.renamed'] })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect((await c.subscribe({ events: ['invoice_items.*', 'invoices.deleted'] })).ok).toBe(true);
  });

  it('knows a table put under capture a moment ago, on this instance or any other', async () => {
    await sql.query(`CREATE TABLE just_enabled (id serial PRIMARY KEY)`);
    const c = await client();
    // Asked once while unknown: the catalog has read the captured tables just now.
    expect(await c.subscribe({ tables: ['just_enabled'] })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    await sql.query(`SELECT capture.enable('just_enabled')`);
    expect((await c.subscribe({ tables: ['just_enabled'] })).ok).toBe(true);
    expect((await c.subscribe({ events: ['just_enabled.created'] })).ok).toBe(true);
  });

  it('matches where values as text: 3 and "3" are the same value', async () => {
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WS-TEXT') RETURNING id`);
    const asText = await client();
    await asText.subscribe({ tables: ['invoice_items'], where: { quantity: '3', invoice_id: rows[0].id } });
    const asNumber = await client();
    await asNumber.subscribe({ tables: ['invoice_items'], where: { quantity: 3, invoice_id: rows[0].id } });
    await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 3, 5), ($1, 4, 5)`, [rows[0].id]);
    await barrier(asText, asNumber);
    expect(real(asText).map((n) => n.payload.new?.quantity)).toEqual([3]);
    expect(real(asNumber).map((n) => n.payload.new?.quantity)).toEqual([3]);
  });

  it('refuses a since after the newest notification, and serves an earlier since on a connection that already received notifications', async () => {
    const { rows } = await sql.query(`SELECT max(n.id)::text AS id FROM notifications n`);
    const newest = BigInt(rows[0].id);
    const c = await client();
    const ahead = await c.subscribe({ since: String(newest + 1000n) });
    expect(ahead).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST', message: expect.stringContaining('after the newest notification') } });

    expect((await c.subscribe({ tables: ['invoices'] })).ok).toBe(true);
    await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WS-SINCE-1')`);
    await c.waitFor(1);
    // Its own position: the stored notifications after newest - 1 are replayed to it.
    const again = await c.subscribe({ since: String(newest - 1n) });
    expect(again).toMatchObject({ ok: true, cursor: String(newest - 1n) });
    const { rows: expected } = await sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.id > $1 ORDER BY n.id`, [newest - 1n]);
    await waitFor(() => c.receivedFor(again.subscriptionId!).length >= expected.length, { what: 'the replay' });
    expect(c.receivedFor(again.subscriptionId!).map((n) => n.id)).toEqual(expected.map((row) => row.id));
  });

  it('refuses a since older than what retention has deleted with SINCE_EXPIRED', async () => {
    await sql.query(`UPDATE notification_retention SET purged_through = 5`);
    try {
      const c = await client();
      expect(await c.subscribe({ since: '3' })).toMatchObject({ ok: false, error: { code: 'SINCE_EXPIRED' } });
      expect((await c.subscribe({ since: '5' })).ok).toBe(true);
    } finally {
      await sql.query(`UPDATE notification_retention SET purged_through = 0`);
    }
  });
});
