import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { waitForNotifications } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

describe('notifications over HTTP', () => {
  let t: TestApp;
  let invoiceId: string;
  beforeAll(async () => {
    t = await createTestApp();
    const created = await t.http
      .post('/invoices')
      .set('X-Actor', 'alice@example.com')
      .send({ invoiceNo: 'N-API', items: [{ quantity: 1, amountPerUnit: 10 }] })
      .expect(201);
    invoiceId = created.body.id;
    await t.http.patch(`/invoices/${invoiceId}/items/${created.body.items[0].id}`).set('X-Actor', 'bob').send({ quantity: 2 }).expect(200);
    await t.http.post('/invoices').send({ invoiceNo: 'N-OTHER' }).expect(201);
    // create: invoice + item + invoice total; patch: item + invoice total; second invoice
    await waitForNotifications(t.db.sql, 6);
  });
  afterAll(() => t.close());

  it('lists the log in ascending id order with the API shape', async () => {
    const res = await t.http.get('/notifications').expect(200);
    const ids = res.body.data.map((n: { id: string }) => BigInt(n.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    expect(res.body.data[0]).toEqual({
      id: expect.stringMatching(/^\d+$/),
      event: 'invoices.created',
      createdAt: expect.any(String),
      payload: expect.objectContaining({ table: 'invoices', op: 'INSERT', pk: { id: invoiceId } }),
    });
    expect(res.body.nextCursor).toBe(res.body.data.at(-1).id);
  });

  it('records the X-Actor of REST writes as the actor', async () => {
    const res = await t.http.get('/notifications').query({ entityId: invoiceId }).expect(200);
    expect(res.body.data.map((n: { payload: { actor: string } }) => n.payload.actor)).toEqual([
      'alice@example.com',
      'alice@example.com',
      'bob',
    ]);
  });

  it('filters by exact event, event prefix, table and entity', async () => {
    const events = async (query: object) =>
      (await t.http.get('/notifications').query(query).expect(200)).body.data.map((n: { event: string }) => n.event);
    expect(await events({ event: 'invoices.created' })).toEqual(['invoices.created', 'invoices.created']);
    expect(await events({ event: 'invoice_items.*' })).toEqual(['invoice_items.created', 'invoice_items.updated']);
    // A prefix is a whole name, not any text, and one that no table's events have is a typo: refused.
    const typo = await t.http.get('/notifications').query({ event: 'invoice.*' }).expect(400);
    expect(typo.body.message).toMatch(/^event invoice\.\* matches no event of a table under capture or in the log .*known: .*invoices\.\*/);
    expect(await events({ table: 'invoice_items' })).toEqual(['invoice_items.created', 'invoice_items.updated']);
    expect(await events({ table: 'invoices', entityId: invoiceId })).toEqual([
      'invoices.created',
      'invoices.updated',
      'invoices.updated',
    ]);
  });

  it('filters by actor and by column values (where), with or without a lookup on the column', async () => {
    // As a browser or curl sends it: a repeated parameter for several columns.
    const ids = async (query: Record<string, string | string[]>) => {
      const params = new URLSearchParams(Object.entries(query).flatMap(([name, value]) => [value].flat().map((v) => [name, v])));
      const res = await t.http.get(`/notifications?${params}`).expect(200);
      return res.body.data.map((n: { event: string; payload: { actor: string } }) => `${n.event} ${n.payload.actor}`);
    };
    expect(await ids({ actor: 'bob' })).toEqual(['invoice_items.updated bob', 'invoices.updated bob']);
    expect(await ids({ actor: 'bob', tail: 'true', limit: '1' })).toEqual(['invoices.updated bob']);
    const byInvoice = ['invoice_items.created alice@example.com', 'invoice_items.updated bob'];
    expect(await ids({ table: 'invoice_items', where: `invoice_id:${invoiceId}` })).toEqual(byInvoice);
    // Several columns, compared as text: quantity 2 is "2".
    expect(await ids({ table: 'invoice_items', where: [`invoice_id:${invoiceId}`, 'quantity:2'] })).toEqual(['invoice_items.updated bob']);
    // The same from the index once the column has a lookup (the drainer starts it with its next batch).
    await t.db.sql.query(`INSERT INTO notification_lookups (table_name, column_name) VALUES ('invoice_items', 'invoice_id')`);
    await t.http.post('/invoices').send({ invoiceNo: 'N-LOOKUP' }).expect(201);
    await waitFor(async () => (await t.db.sql.query(`SELECT covered_after FROM notification_lookups WHERE column_name = 'invoice_id'`)).rows[0].covered_after !== null);
    expect(await ids({ table: 'invoice_items', where: `invoice_id:${invoiceId}` })).toEqual(byInvoice);
    expect(await ids({ table: 'invoice_items', where: `invoice_id:${invoiceId}`, tail: 'true' })).toEqual(byInvoice);
    await t.db.sql.query(`DELETE FROM notification_lookups WHERE column_name = 'invoice_id'`);
  });

  it('refuses a where that is not column:value, naming it', async () => {
    for (const where of ['invoice_id', '1abc:x', 'a b:c']) {
      const res = await t.http.get('/notifications').query({ where }).expect(400);
      expect(res.body.message).toMatch(/^where must be column:value/);
    }
  });

  it('pages with after and limit, and ends with an empty page whose cursor is null', async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const res = await t.http.get('/notifications').query({ limit: 2, ...(after ? { after } : {}) }).expect(200);
      if (res.body.data.length === 0) {
        expect(res.body.nextCursor).toBeNull();
        break;
      }
      seen.push(...res.body.data.map((n: { id: string }) => n.id));
      after = res.body.nextCursor;
    }
    const all = (await t.http.get('/notifications').expect(200)).body.data.map((n: { id: string }) => n.id);
    expect(seen).toEqual(all);
  });

  it('gets one notification, 404 for a missing one', async () => {
    const [first] = (await t.http.get('/notifications').query({ limit: 1 }).expect(200)).body.data;
    expect((await t.http.get(`/notifications/${first.id}`).expect(200)).body).toEqual(first);
    const missing = await t.http.get('/notifications/999999999').expect(404);
    expect(missing.body.message).toContain('999999999');
  });

  it.each([
    [{ after: 'abc' }, 'after'],
    [{ after: '-1' }, 'after'],
    [{ limit: 0 }, 'limit must not be less than 1'],
    [{ limit: 5000 }, 'limit must not be greater than 1000'],
    [{ limit: 'x' }, 'limit must be an integer'],
    [{ event: 'invoices.' }, 'event must be'],
    [{ event: '*.created' }, 'event must be'],
    [{ event: 'invoices.*.x' }, 'event must be'],
    [{ event: "x'; DROP TABLE notifications; --" }, 'event must be'],
    [{ table: 'a.b.c' }, 'table must be'],
    [{ entityId: 'x'.repeat(501) }, 'entityId'],
    [{ entityId: 'a\u0000b' }, 'entityId must not contain control characters'],
    [{ foo: 1 }, 'property foo should not exist'],
  ])('refuses %j with 400 naming the field', async (query, fragment) => {
    const res = await t.http.get('/notifications').query(query).expect(400);
    expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.stringContaining(fragment) });
  });

  it('refuses a notification id that is not a number', async () => {
    const res = await t.http.get('/notifications/abc').expect(400);
    expect(res.body.message).toContain('id');
  });

  it('refuses an X-Actor that is too long or not printable, writing nothing', async () => {
    const before = (await t.db.sql.query(`SELECT count(*)::int AS n FROM invoices`)).rows[0].n;
    const long = await t.http.post('/invoices').set('X-Actor', 'a'.repeat(129)).send({ invoiceNo: 'ACTOR-1' });
    expect(long.status).toBe(400);
    expect(long.body.message).toContain('X-Actor');
    const control = await t.http.post('/invoices').set('X-Actor', 'a\tb').send({ invoiceNo: 'ACTOR-2' });
    expect(control.status).toBe(400);
    expect((await t.db.sql.query(`SELECT count(*)::int AS n FROM invoices`)).rows[0].n).toBe(before);
  });

  it('takes ?table with or without the public schema, and refuses a table nothing is known of', async () => {
    const bare = (await t.http.get('/notifications').query({ table: 'invoices' }).expect(200)).body.data;
    const qualified = (await t.http.get('/notifications').query({ table: 'public.invoices' }).expect(200)).body.data;
    expect(qualified).toEqual(bare);
    expect(bare.length).toBeGreaterThan(0);
    const unknown = await t.http.get('/notifications').query({ table: 'nosuch' }).expect(400);
    expect(unknown.body.message).toBe('table nosuch is neither under capture nor in the log (npm run capture -- list shows what is captured)');
  });

  it('gives the newest notifications with tail=true, ascending, filters applied', async () => {
    const { rows } = await t.db.sql.query(`SELECT n.id::text AS id, n.event FROM notifications n ORDER BY n.id`);
    const newest = (await t.http.get('/notifications').query({ tail: 'true', limit: 2 }).expect(200)).body;
    expect(newest.data.map((n: { id: string }) => n.id)).toEqual(rows.slice(-2).map((row) => row.id));
    expect(newest.nextCursor).toBe(rows.at(-1).id);
    const created = rows.filter((row) => row.event === 'invoices.created').map((row) => row.id);
    const filtered = (await t.http.get('/notifications').query({ tail: 'true', limit: 1, event: 'invoices.created' }).expect(200)).body;
    expect(filtered.data.map((n: { id: string }) => n.id)).toEqual(created.slice(-1));
    const all = (await t.http.get('/notifications').query({ tail: 'true', limit: 1000 }).expect(200)).body;
    expect(all.data.map((n: { id: string }) => n.id)).toEqual(rows.map((row) => row.id));
    const both = await t.http.get('/notifications').query({ tail: 'true', after: '1' }).expect(400);
    expect(both.body.message).toMatch(/^tail and after do not go together/);
    expect((await t.http.get('/notifications').query({ tail: 'yes' }).expect(400)).body.message).toBe('tail must be true or false');
  });

  it('lists the tables under capture with their column filters, keys, old rows and problems', async () => {
    const { body } = await t.http.get('/tables').expect(200);
    const armed = { columns: null, key: ['id'], keepOld: true, problems: [], lookups: [] };
    expect(body).toEqual(
      expect.arrayContaining([
        { table: 'invoices', schema: 'public', name: 'invoices', ...armed },
        { table: 'invoice_items', schema: 'public', name: 'invoice_items', ...armed },
      ]),
    );
    await t.db.sql.query(`CREATE SCHEMA sales; CREATE TABLE sales.orders (id int PRIMARY KEY, status text, note text)`);
    await t.db.sql.query(`SELECT capture.enable('sales.orders', ARRAY['status'])`);
    const { body: after } = await t.http.get('/tables').expect(200);
    expect(after).toContainEqual({
      table: 'sales.orders',
      schema: 'sales',
      name: 'orders',
      columns: ['status'],
      key: ['id'],
      keepOld: true,
      problems: [],
      lookups: [],
    });
  });

  // Last: it adds a notification the tests above do not expect.
  it("records a REST write with no key and no X-Actor as the API's, not as the database user", async () => {
    const created = await t.http.post('/invoices').send({ invoiceNo: 'ANON-1' }).expect(201);
    const [notification] = await waitForNotifications(t.db.sql, 1, { where: `payload->'new'->>'id' = $1`, values: [created.body.id] });
    expect(notification.payload.actor).toBe('api (anonymous)');
  });
});
