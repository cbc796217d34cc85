import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../../test/support/app.js';
import { createKey, reloadKeys, revokeKey } from '../../test/support/keys.js';
import { waitForNotifications } from '../../test/support/notifications.js';
import { waitFor } from '../../test/support/wait.js';
import { RowcastClient, RowcastError, RowcastHttpError } from '../src/index.js';
import { record } from './support.js';

describe('RowcastClient with API keys', () => {
  let t: TestApp;
  let reader: string;
  let invoicesOnly: string;
  let client: RowcastClient;
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    reader = await createKey(t.db, 'reader', ['events:subscribe', 'notifications:read']);
    invoicesOnly = await createKey(t.db, 'invoices-only', ['events:subscribe'], ['invoices']);
    await reloadKeys(t);
  });
  afterEach(() => client.close());
  afterAll(() => t.close());

  it('refuses without a valid key: typed, fatal, over both WebSocket and REST', async () => {
    client = new RowcastClient({ url: t.url, apiKey: 'rck_wrong' });
    const refused = record(client, {});
    await waitFor(() => refused.errors.length > 0, { what: 'the refusal' });
    expect(refused.errors).toEqual([expect.any(RowcastError)]);
    expect(refused.errors[0]).toMatchObject({ code: 'UNAUTHORIZED', fatal: true });
    expect(refused.subscription.closed).toBe(true);
    const error = await client.notifications.list().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RowcastHttpError);
    expect(error).toMatchObject({ status: 401 });
  });

  it('sends the key current at each connection and request (auth.token, Authorization: Bearer)', async () => {
    let key = 'rck_wrong';
    client = new RowcastClient({ url: t.url, apiKey: () => key });
    const refused = record(client, {});
    await waitFor(() => refused.subscription.closed, { what: 'the refusal' });
    key = reader;
    const live = record(client, { tables: ['invoices'] });
    await live.live();
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('KEYED-1')`);
    await waitFor(() => live.notifications.length === 1, { what: 'the notification' });
    const page = await client.notifications.list({ after: String(BigInt(live.notifications[0].id) - 1n) });
    expect(page.data.map((n) => n.id)).toEqual(live.ids());
  });

  it('ends every subscription with KEY_REVOKED when its key is revoked, and a stream throws it', async () => {
    const key = await createKey(t.db, 'doomed', ['events:subscribe']);
    await reloadKeys(t);
    client = new RowcastClient({ url: t.url, apiKey: key });
    const first = record(client, {});
    let live = false;
    const stream = client.stream({ tables: ['invoices'] }, { onStatus: (status) => void (live = status === 'live') });
    await first.live();
    await waitFor(() => live, { what: 'the stream to be live' });
    await revokeKey(t.db, 'doomed');
    await reloadKeys(t);
    await waitFor(() => first.errors.length > 0, { what: 'the revocation' });
    expect(first.errors).toEqual([expect.objectContaining({ code: 'KEY_REVOKED', fatal: true })]);
    await expect(stream.next()).rejects.toMatchObject({ code: 'KEY_REVOKED' });
  });

  it('ends the subscription the key refuses and resumes the other on the same connection', async () => {
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('LIMITED-1')`);
    const [since] = await waitForNotifications(t.db.sql, 1, { where: `event = 'invoices.created'` });
    client = new RowcastClient({ url: t.url, apiKey: invoicesOnly });
    const allowed = record(client, { tables: ['invoices'] }, { since: String(BigInt(since.id) - 1n) });
    const forbidden = record(client, { tables: ['invoice_items'] }, { since: String(BigInt(since.id) - 1n) });
    await waitFor(() => forbidden.errors.length > 0 && allowed.notifications.length > 0, { what: 'the refusal and the replay' });
    expect(forbidden.errors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', fatal: true })]);
    expect(allowed.ids()[0]).toBe(since.id);
    expect(allowed.errors).toEqual([]);
    await allowed.live();
  });
});
