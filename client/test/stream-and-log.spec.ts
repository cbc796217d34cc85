import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionsService } from '../../src/realtime/subscriptions.service.js';
import { createTestApp, TestApp } from '../../test/support/app.js';
import { waitForNotifications } from '../../test/support/notifications.js';
import { waitFor } from '../../test/support/wait.js';
import { RowcastClient, RowcastHttpError, type Notification } from '../src/index.js';
import { logIds } from './support.js';

describe('RowcastClient.stream', () => {
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

  it('iterates the matching notifications in order, and breaking out ends the subscription', async () => {
    let live = 0;
    const onStatus = (status: string) => void (status === 'live' && live++);
    const stream = client.stream({ events: ['invoices.created'], where: { invoice_no: 'STREAM-3' } }, { onStatus });
    const items = client.stream({ tables: ['invoice_items'] }, { onStatus });
    const service = t.app.get(SubscriptionsService);
    // Subscribed at once, not at the first next(): what is written meanwhile is not missed.
    await waitFor(() => live === 2, { what: 'both streams to be live' });
    expect(service.connectedClients).toBe(1);
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'STREAM-' || g FROM generate_series(1, 5) g`);
    const { value: first } = await stream.next();
    expect(first).toMatchObject({ event: 'invoices.created', payload: { table: 'invoices', op: 'INSERT', new: { invoice_no: 'STREAM-3' } } });

    const { rows } = await t.db.sql.query(`SELECT id FROM invoices WHERE invoice_no LIKE 'STREAM-%' ORDER BY invoice_no`);
    await t.db.sql.query(
      `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) SELECT id, 1, 100 FROM invoices WHERE invoice_no LIKE 'STREAM-%'`,
    );
    const seen: Notification[] = [];
    for await (const notification of items) {
      seen.push(notification);
      if (seen.length === rows.length) break;
    }
    expect(seen.map((n) => n.id)).toEqual(await logIds(t.db.sql, `event = 'invoice_items.created'`));
    expect(await items.next()).toEqual({ done: true, value: undefined });

    await stream.return!();
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    // No subscription left, no connection either.
    await waitFor(() => service.connectedClients === 0, { what: 'the connection to close' });
  });

  it('ends a waiting stream when the client closes', async () => {
    const other = new RowcastClient({ url: t.url });
    const stream = other.stream({});
    const pending = stream.next();
    other.close();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(() => other.stream({})).toThrow(/closed/);
  });
});

describe('RowcastClient.notifications (the log over REST)', () => {
  let t: TestApp;
  let client: RowcastClient;
  let requests: string[];
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    requests = [];
    client = new RowcastClient({
      url: t.url,
      fetch: (input, init) => {
        requests.push(String(input));
        return fetch(input, init);
      },
    });
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'LOG-' || g FROM generate_series(1, 1000) g`);
    await t.db.sql.query(`UPDATE invoices SET invoice_no = invoice_no || '-x' WHERE invoice_no IN ('LOG-1', 'LOG-2')`);
    await waitForNotifications(t.db.sql, 1002);
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it('pages through 1,000 notifications with after, in order, to the end of the log', async () => {
    const all: Notification[] = [];
    for await (const notification of client.notifications.all({ event: 'invoices.created', limit: 100 })) all.push(notification);
    expect(all.map((n) => n.id)).toEqual(await logIds(t.db.sql, `event = 'invoices.created'`));
    expect(all).toHaveLength(1000);
    expect(all[0]).toMatchObject({ event: 'invoices.created', payload: { schema: 'public', table: 'invoices', op: 'INSERT' } });
    // Ten full pages, then the empty one that says it is the end.
    expect(requests).toHaveLength(11);
    expect(new URL(requests[1]).searchParams.get('after')).toBe(all[99].id);
  });

  it('reads one page, one notification, and filters by table and entity', async () => {
    const page = await client.notifications.list({ table: 'public.invoices', limit: 2 });
    expect(page.data).toHaveLength(2);
    expect(page.nextCursor).toBe(page.data[1].id);
    expect(await client.notifications.get(page.data[0].id)).toEqual(page.data[0]);

    const entity = String(page.data[0].payload.pk!.id);
    const history = await client.notifications.list({ entityId: entity });
    expect(history.data.map((n) => n.event)).toEqual(['invoices.created', 'invoices.updated']);
    expect(history.data[1].payload.changedColumns).toContain('invoice_no');

    const end = await client.notifications.list({ after: history.data.at(-1)!.id, entityId: entity });
    expect(end).toEqual({ data: [], nextCursor: null });

    // By actor and by column values: `where` goes as one where=column:value per column.
    const invoiceNo = String(history.data[1].payload.new!.invoice_no);
    const byColumns = await client.notifications.list({ table: 'invoices', where: { id: entity, invoice_no: invoiceNo } });
    expect(byColumns.data.map((n) => n.id)).toEqual([history.data[1].id]);
    const actor = history.data[1].payload.actor;
    const byActor = await client.notifications.list({ actor, tail: true, limit: 1 });
    expect(byActor.data[0].payload.actor).toBe(actor);
  });

  it('throws a typed error with the status and the service message', async () => {
    const error = await client.notifications.list({ event: 'not an event' }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RowcastHttpError);
    expect(error).toMatchObject({ status: 400, body: { statusCode: 400 } });
    expect((error as Error).message).toMatch(/event must be/);
    await expect(client.notifications.get('999999')).rejects.toMatchObject({ status: 404 });
  });
});
