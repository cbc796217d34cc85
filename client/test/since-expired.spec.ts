import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SubscriptionsService } from '../../src/realtime/subscriptions.service.js';
import { createTestApp, TestApp } from '../../test/support/app.js';
import { waitForNotifications } from '../../test/support/notifications.js';
import { waitFor } from '../../test/support/wait.js';
import { RowcastClient, RowcastError } from '../src/index.js';
import { closeFromServer, logIds, record } from './support.js';

describe('RowcastClient when retention has deleted what it would resume from', () => {
  let t: TestApp;
  let client: RowcastClient;
  let ids: string[];
  const purgeThrough = (id: string | bigint | number) => t.db.sql.query(`UPDATE notification_retention SET purged_through = $1`, [String(id)]);

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'EXP-' || g FROM generate_series(1, 10) g`);
    ids = (await waitForNotifications(t.db.sql, 10)).map((n) => n.id);
  });
  beforeEach(() => {
    client = new RowcastClient({ url: t.url });
  });
  afterEach(async () => {
    client.close();
    await purgeThrough(0);
  });
  afterAll(() => t.close());

  it('ends the subscription with a typed SINCE_EXPIRED error (the ack), once, without retrying', async () => {
    await purgeThrough(ids[5]);
    const expired = record(client, {}, { since: ids[2] });
    await waitFor(() => expired.errors.length > 0, { what: 'the error' });
    expect(expired.errors).toEqual([expect.any(RowcastError)]);
    expect(expired.errors[0]).toMatchObject({ code: 'SINCE_EXPIRED', fatal: true });
    expect(expired.subscription.closed).toBe(true);
    expect(expired.notifications).toEqual([]);
    // Nothing left to serve: the connection closes rather than trying again.
    await waitFor(() => t.app.get(SubscriptionsService).connectedClients === 0, { what: 'the connection to close' });
    expect(expired.errors).toHaveLength(1); // still one: it did not retry before the connection closed
  });

  it('ends only the subscriptions that resume from before the deleted ones; the others go on', async () => {
    await purgeThrough(ids[5]);
    const expired = record(client, {}, { since: ids[2] });
    const fine = record(client, {}, { since: ids[7] });
    await waitFor(() => expired.errors.length > 0 && fine.notifications.length === 2, { what: 'one error, two notifications' });
    expect(expired.errors).toEqual([expect.objectContaining({ code: 'SINCE_EXPIRED', fatal: true })]);
    expect(fine.ids()).toEqual(ids.slice(8));
    expect(fine.errors).toEqual([]);
    expect(fine.subscription.closed).toBe(false);
  });

  it('turns an error_notice SINCE_EXPIRED (a replay overtaken by retention) into the same typed error', async () => {
    const stream = record(client, {}, { since: ids[0] });
    await waitFor(() => stream.notifications.length === 9, { what: 'the replay' });
    // Retention deletes past the client's position; the server tells it and closes the connection.
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('EXP-11')`);
    const [eleventh] = await waitForNotifications(t.db.sql, 1, { where: `id > $1`, values: [ids[9]] });
    await waitFor(() => stream.notifications.length === 10, { what: 'the eleventh' });
    await purgeThrough(BigInt(eleventh.id) + 1n);
    expect(closeFromServer(t, 'SINCE_EXPIRED')).toBe(1);
    await waitFor(() => stream.errors.length > 0, { what: 'the error' });
    expect(stream.errors).toEqual([expect.objectContaining({ code: 'SINCE_EXPIRED', fatal: true })]);
    expect(stream.subscription.closed).toBe(true);
  });

  it('throws it from a stream, after what arrived before', async () => {
    const log = await logIds(t.db.sql);
    const received: string[] = [];
    const consume = async (since: string) => {
      for await (const notification of client.stream({}, { since })) received.push(notification.id);
    };
    const failed = consume(ids[0]).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    await waitFor(() => received.length === log.length - 1, { what: 'the replay' });
    await purgeThrough(BigInt(log.at(-1)!) + 1n);
    expect(closeFromServer(t, 'SINCE_EXPIRED')).toBe(1);
    const error = await failed;
    expect(error).toBeInstanceOf(RowcastError);
    expect(error).toMatchObject({ code: 'SINCE_EXPIRED', fatal: true });
    expect(received).toEqual(log.slice(1));

    // Refused at once (the ack): nothing arrives, the loop throws.
    received.length = 0;
    await expect(consume(ids[2])).rejects.toMatchObject({ code: 'SINCE_EXPIRED', fatal: true });
    expect(received).toEqual([]);
  });

  // Last: it writes to the log the tests above count.
  it('resumes a subscription that matched nothing for a while from its checkpoint, not from its old position', async () => {
    const busy = record(client, { tables: ['invoices'] });
    const idle = record(client, { events: ['invoice_items.deleted'] });
    await Promise.all([busy.live(), idle.live()]);
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'IDLE-' || g FROM generate_series(1, 5) g`);
    await waitFor(() => busy.notifications.length === 5, { what: 'five invoices' });
    t.app.get(SubscriptionsService).checkpoint();
    // A notification after the checkpoint, on the same connection: once it is here, so is the checkpoint.
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('IDLE-marker')`);
    await waitFor(() => busy.notifications.length === 6, { what: 'the marker' });
    // Retention deletes everything up to the checkpoint; the idle one resumes from there, unharmed.
    await purgeThrough(busy.ids()[4]);
    expect(closeFromServer(t, 'SLOW_CONSUMER')).toBe(1);
    await waitFor(() => busy.statuses.filter((status) => status === 'live').length === 2 && idle.statuses.at(-1) === 'live', {
      what: 'both to resume',
    });
    expect(idle.errors.filter((error) => (error as RowcastError).fatal)).toEqual([]);
    expect(idle.subscription.closed).toBe(false);
  });
});
