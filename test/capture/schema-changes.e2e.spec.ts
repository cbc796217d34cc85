import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notification, NotificationMessage } from '../../client/src/protocol.js';
import { createTestApp, TestApp } from '../support/app.js';
import { connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

type Seen = Pick<Notification, 'event' | 'payload'>;

/** What a consumer keeping a copy of the table reads: the event, the key, and what a schema change says. */
const story = (notifications: Seen[]) =>
  notifications.map(({ event, payload }) =>
    payload.op === 'SCHEMA_CHANGE'
      ? [event, payload.schemaChange!.command, payload.schemaChange!.after?.table ?? null, payload.schemaChange!.after?.key ?? null]
      : [event, payload.pk],
  );

/**
 * Schema changes and TRUNCATE on a captured table, while it is written to, through every way a
 * consumer reads: the REST log, a WebSocket subscription (with a `where` filter) and a webhook.
 * Writes never fail because of capture, and every reader is told where the table changed.
 */
describe('schema changes and TRUNCATE, as consumers see them', () => {
  let t: TestApp;
  let client: TestClient;
  const receiver = new WebhookReceiver();
  let filtered: string;
  let everything: string;

  beforeAll(async () => {
    t = await createTestApp({ listen: true, env: { WEBHOOK_ALLOW_PRIVATE: 'true', CAPTURE_CHECK_INTERVAL_MS: '100' } });
    await receiver.accept();
    await t.db.sql.query(`CREATE TABLE products (id int PRIMARY KEY, name text, price int)`);
    await t.db.sql.query(`SELECT capture.enable('products')`);
    client = await connectClient(t.url);
    const byName = await client.subscribe({ tables: ['products'], where: { name: 'a' } });
    const all = await client.subscribe({ events: ['products.*'] });
    expect(byName.ok && all.ok).toBe(true);
    filtered = byName.subscriptionId!;
    everything = all.subscriptionId!;
    await t.http.post('/webhooks').send({ url: receiver.url, events: ['products.*'] }).expect(201);
  });
  afterAll(async () => {
    client?.close();
    await receiver.close();
    await t.close();
  });

  const expected = [
    ['products.created', { id: 1 }],
    ['products.schema_changed', 'ALTER TABLE', 'products', ['product_id']],
    ['products.created', { product_id: 2 }],
    ['products.updated', { product_id: 1 }],
    ['products.truncated', null],
    ['products.created', { product_id: 3 }],
    ['products.schema_changed', 'ALTER TABLE', 'products', ['product_id', 'name']],
    ['products.created', { product_id: 4, name: 'a' }],
    ['products.schema_changed', 'ALTER TABLE', 'goods', ['product_id', 'name']],
  ];

  it('tells every reader, in order, what the table is now: key renamed, truncated, new key, renamed', async () => {
    const sql = (text: string) => t.db.sql.query(text);
    await sql(`INSERT INTO products VALUES (1, 'a', 10)`);
    await sql(`ALTER TABLE products RENAME COLUMN id TO product_id`);
    await sql(`INSERT INTO products VALUES (2, 'a', 20)`);
    await sql(`UPDATE products SET price = 11 WHERE product_id = 1`);
    await sql(`TRUNCATE products`);
    await sql(`INSERT INTO products VALUES (3, 'a', 30)`);
    await sql(`ALTER TABLE products DROP CONSTRAINT products_pkey, ADD PRIMARY KEY (product_id, name)`);
    await sql(`INSERT INTO products VALUES (4, 'a', 40)`);
    await sql(`ALTER TABLE products RENAME TO goods`);

    const rest = await waitFor(
      async () => {
        const page = (await t.http.get('/notifications').query({ table: 'products' }).expect(200)).body.data as Notification[];
        return page.length >= expected.length ? page : undefined;
      },
      { what: `${expected.length} notifications of products in the log` },
    );
    expect(story(rest)).toEqual(expected);

    await waitFor(() => client.receivedFor(everything).length >= expected.length, { what: 'the subscription to products.*' });
    expect(story(client.receivedFor(everything))).toEqual(expected);
    // A `where` on the rows lets table events through: a copy of the matching rows must hear of them.
    await waitFor(() => client.receivedFor(filtered).length >= expected.length, { what: 'the subscription with a where filter' });
    expect(story(client.receivedFor(filtered))).toEqual(expected);

    await waitFor(() => receiver.delivered.length >= expected.length, { timeout: 20_000, what: 'the webhook' });
    expect(story(receiver.requests.filter((r) => r.answer === 'ok').map((r) => JSON.parse(r.body) as Seen))).toEqual(expected);
  });

  it('a schema change says what the table was and is: columns with their types, and the command', async () => {
    const renamed = client.receivedFor(everything).find((n) => n.payload.schemaChange?.after?.table === 'goods') as NotificationMessage;
    expect(renamed.payload).toMatchObject({ schema: 'public', table: 'products', op: 'SCHEMA_CHANGE', pk: null, new: null, old: null });
    const shape = (table: string) => ({
      schema: 'public',
      table,
      key: ['product_id', 'name'],
      columns: [
        { name: 'product_id', type: 'integer' },
        { name: 'name', type: 'text' },
        { name: 'price', type: 'integer' },
      ],
    });
    expect(renamed.payload.schemaChange).toEqual({ command: 'ALTER TABLE', before: shape('products'), after: shape('goods') });
    // The same through REST (GET /notifications/:id) as pushed.
    expect((await t.http.get(`/notifications/${renamed.id}`).expect(200)).body.payload).toEqual(renamed.payload);
  });

  it('a renamed table is listed, read and subscribed to under its new name at once', async () => {
    const tables = (await t.http.get('/tables').expect(200)).body as { table: string; key: string[] }[];
    expect(tables.map((table) => table.table)).toContain('goods');
    expect(tables.map((table) => table.table)).not.toContain('products');
    expect(tables.find((table) => table.table === 'goods')!.key).toEqual(['product_id', 'name']);

    const goods = await client.subscribe({ tables: ['goods'] });
    expect(goods).toMatchObject({ ok: true });
    await t.db.sql.query(`INSERT INTO goods VALUES (5, 'b', 50)`);
    await waitFor(() => client.receivedFor(goods.subscriptionId!).length === 1, { what: 'goods.created' });
    expect(story(client.receivedFor(goods.subscriptionId!))).toEqual([['goods.created', { product_id: 5, name: 'b' }]]);
    const page = (await t.http.get('/notifications').query({ event: 'goods.created' }).expect(200)).body.data as Notification[];
    expect(story(page)).toEqual([['goods.created', { product_id: 5, name: 'b' }]]);
  });

  it('DROP TABLE: a last schema change with no after, and the table leaves GET /tables', async () => {
    await t.db.sql.query(`DROP TABLE goods`);
    const dropped = await waitFor(() => client.received.find((n) => n.event === 'goods.schema_changed'), { what: 'goods.schema_changed' });
    expect(dropped.payload.schemaChange).toMatchObject({ command: 'DROP TABLE', before: { table: 'goods' }, after: null });
    expect(((await t.http.get('/tables').expect(200)).body as { table: string }[]).map((table) => table.table)).not.toContain('goods');
    // Still in the log, so still a name readers may use.
    await t.http.get('/notifications').query({ table: 'goods' }).expect(200);
  });

  it('a capture trigger disabled by hand: /health degraded naming the table, a metric, GET /tables; enable re-arms', async () => {
    await t.db.sql.query(`ALTER TABLE invoices DISABLE TRIGGER capture_update`);
    try {
      const health = await waitFor(
        async () => {
          const response = await t.http.get('/health');
          return response.body.status === 'degraded' ? response : undefined;
        },
        { what: '/health to say degraded' },
      );
      expect(health.status).toBe(200);
      expect(health.body.capture).toEqual({ problems: [{ table: 'invoices', problem: 'its update trigger is disabled' }] });
      expect((await t.http.get('/metrics').expect(200)).text).toMatch(/^rowcast_capture_problems\{table="invoices"\} 1$/m);
      const tables = (await t.http.get('/tables').expect(200)).body as { table: string; problems: string[] }[];
      expect(tables.find((table) => table.table === 'invoices')!.problems).toEqual(['its update trigger is disabled']);
    } finally {
      await t.db.sql.query(`SELECT capture.enable('invoices')`);
    }
    await waitFor(async () => (await t.http.get('/health')).body.status === 'ok', { what: '/health to say ok again' });
    expect((await t.http.get('/metrics').expect(200)).text).not.toMatch(/rowcast_capture_problems\{table="invoices"\}/);
  });
});
