import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';

/**
 * Names a reader gives (tables, event names and prefixes) are held to what is captured or logged,
 * everywhere a filter is taken: a typo is refused by name rather than matching nothing forever.
 */
describe('the catalog of table and event names', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(() => t.close());

  it('refuses a sink whose events no known table has, on create and on change, naming the known ones', async () => {
    const typo = await t.http.post('/sinks').send({ kind: 'webhook', webhook: { url: 'http://127.0.0.1:9/x' }, events: ['invoice.*'] }).expect(400);
    expect(typo.body.message).toMatch(/^event invoice\.\* matches no event of a table under capture or in the log .*known: .*invoices\.\*/);
    const alias = await t.http.post('/webhooks').send({ url: 'http://127.0.0.1:9/x', events: ['invoices.created', 'orders.*'] }).expect(400);
    expect(alias.body.message).toContain('event orders.* matches no event');
    const sink = await t.http.post('/webhooks').send({ url: 'http://127.0.0.1:9/x', events: ['invoice_items.*'] }).expect(201);
    const change = await t.http.patch(`/sinks/${sink.body.id}`).send({ events: ['invoice_item.updated'] }).expect(400);
    expect(change.body.message).toContain('event invoice_item.updated matches no event');
    expect((await t.http.get(`/sinks/${sink.body.id}`).expect(200)).body.events).toEqual(['invoice_items.*']);
  });

  it('takes the events of a table captured a moment ago', async () => {
    await t.db.sql.query(`CREATE TABLE orders (id serial PRIMARY KEY)`);
    await t.http.get('/notifications').query({ event: 'orders.*' }).expect(400);
    await t.db.sql.query(`SELECT capture.enable('orders')`);
    await t.http.get('/notifications').query({ event: 'orders.*' }).expect(200);
    await t.http.post('/webhooks').send({ url: 'http://127.0.0.1:9/x', events: ['orders.deleted'] }).expect(201);
  });
});
