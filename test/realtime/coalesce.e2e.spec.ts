import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationMessage } from '../../client/src/protocol.js';
import { createTestApp, TestApp } from '../support/app.js';
import { connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';

/**
 * `coalesce: 'transaction'` on a WebSocket subscription, as a client written from the AsyncAPI
 * document uses it: raw socket.io-client, resuming with `since` its last id.
 */
describe('WebSocket subscriptions with coalesce: transaction', () => {
  let t: TestApp;
  let sql: pg.Pool;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    sql = t.db.sql;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => t.close());

  async function connect(): Promise<TestClient> {
    const c = await connectClient(t.url);
    clients.push(c);
    return c;
  }

  /** An invoice and two items (2 × 5 + 1 × 3) in one transaction, by SQL: raw, created 0, two items, updated 13. */
  async function invoiceWithItems(invoiceNo: string): Promise<void> {
    const client = await sql.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [invoiceNo]);
      await client.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 5), ($1, 1, 3)`, [rows[0].id]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  const summary = (messages: NotificationMessage[]) => messages.map((m) => `${m.event}:${String(m.payload.new?.total_amount ?? '')}`);

  it('sends an invoice created with items once, with its total, next to a subscription that gets every change', async () => {
    const c = await connect();
    const net = await c.subscribe({ tables: ['invoices'], coalesce: 'transaction' });
    const every = await c.subscribe({ tables: ['invoices'] });
    const updatesOnly = await c.subscribe({ events: ['invoices.updated'], coalesce: 'transaction' });
    expect([net.ok, every.ok, updatesOnly.ok]).toEqual([true, true, true]);

    await invoiceWithItems('WS-CO-1');
    await sql.query(`UPDATE invoices SET invoice_no = 'WS-CO-1b' WHERE invoice_no = 'WS-CO-1'`);

    await waitFor(() => c.receivedFor(every.subscriptionId!).length === 3, { what: 'every change of the invoice' });
    await waitFor(() => c.receivedFor(net.subscriptionId!).length === 2, { what: 'the net changes' });
    await waitFor(() => c.receivedFor(updatesOnly.subscriptionId!).length === 1, { what: 'the net update' });
    expect(summary(c.receivedFor(every.subscriptionId!))).toEqual(['invoices.created:0', 'invoices.updated:13', 'invoices.updated:13']);
    const [created, sent] = c.receivedFor(net.subscriptionId!);
    expect(summary([created, sent])).toEqual(['invoices.created:13', 'invoices.updated:13']);
    expect(created.id).toBe(c.receivedFor(every.subscriptionId!)[0].id);
    expect(created.coalesced).toEqual(c.receivedFor(every.subscriptionId!).slice(0, 2).map((m) => m.id));
    expect(created.payload.old).toBeNull();
    expect(sent.coalesced).toBeUndefined();
    // The filter sees the net change: the creation is not an update.
    expect(c.receivedFor(updatesOnly.subscriptionId!).map((m) => m.id)).toEqual([sent.id]);
  });

  it('resumes from its last id with every net change once, across a disconnection in the middle of a stream of transactions', async () => {
    const before = (await sql.query(`SELECT coalesce(max(id), 0)::text AS id FROM notifications`)).rows[0].id as string;
    const writer = (async () => {
      for (let i = 0; i < 60; i++) await invoiceWithItems(`WS-CO-R-${i}`);
    })();
    const first = await connect();
    const ack = await first.subscribe({ since: before, coalesce: 'transaction' });
    expect(ack).toMatchObject({ ok: true, cursor: before });
    await waitFor(() => first.received.length >= 40, { what: 'a part of the stream' });
    first.close();
    const got = [...first.received];
    const second = await connect();
    const resumed = await second.subscribe({ since: got[got.length - 1].id, coalesce: 'transaction' });
    expect(resumed.ok).toBe(true);
    await writer;
    await waitFor(() => [...got, ...second.received].filter((m) => m.event === 'invoices.created').length === 60, {
      timeout: 30_000,
      what: 'every invoice',
    });
    await waitFor(() => [...got, ...second.received].length >= 180, { what: 'every item' });
    const all = [...got, ...second.received];

    // Ids ascend with no duplicate; each transaction gives its invoice (with its total) and then its two items, nothing else.
    const ids = all.map((m) => BigInt(m.id));
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).toBe(true);
    expect(all).toHaveLength(180);
    for (let i = 0; i < 60; i++) {
      const [invoice, ...items] = all.slice(i * 3, i * 3 + 3);
      expect(invoice.event).toBe('invoices.created');
      expect(Number(invoice.payload.new?.total_amount)).toBe(13);
      expect(items.map((m) => m.event)).toEqual(['invoice_items.created', 'invoice_items.created']);
      expect(items.every((m) => m.payload.txId === invoice.payload.txId && m.payload.new?.invoice_id === invoice.payload.new?.id)).toBe(true);
    }
  }, 60_000);

  it('refuses a coalesce it does not know, naming it', async () => {
    const c = await connect();
    const ack = await c.subscribe({ tables: ['invoices'], coalesce: 'row' });
    expect(ack.ok).toBe(false);
    expect(ack.error?.code).toBe('INVALID_REQUEST');
    expect(ack.error?.message).toMatch(/coalesce must be 'transaction'/);
  });
});
