import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { bearer, createKey, reloadKeys, revokeKey } from '../support/keys.js';
import { connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';

describe('limits and revocation', () => {
  const apps: TestApp[] = [];
  const clients: TestClient[] = [];
  const app = async (env: Record<string, string> = {}, db?: TestApp['db']) => {
    const t = await createTestApp({ listen: true, env, db });
    apps.push(t);
    return t;
  };
  const connect = async (t: TestApp, token?: string) => {
    const client = await connectClient(t.url, { token });
    clients.push(client);
    return client;
  };
  const closed = (client: TestClient) => new Promise<string>((resolve) => client.socket.once('disconnect', resolve));
  const notice = (client: TestClient) => new Promise<{ code: string; message: string }>((resolve) => client.socket.once('error_notice', resolve));
  afterEach(async () => {
    clients.splice(0).forEach((client) => client.close());
    await Promise.all(apps.splice(0).reverse().map((t) => t.close()));
  });

  it('answers 429 with Retry-After once a key has made RATE_LIMIT requests in a minute, on any route; other keys go on', async () => {
    const t = await app({ RATE_LIMIT: '5' });
    const busy = await createKey(t.db, 'busy', ['invoices:read', 'notifications:read']);
    const calm = await createKey(t.db, 'calm', ['invoices:read']);
    await reloadKeys(t);
    for (let i = 0; i < 3; i++) await t.http.get('/invoices').set(bearer(busy)).expect(200);
    for (let i = 0; i < 2; i++) await t.http.get('/notifications').set(bearer(busy)).expect(200);
    const refused = await t.http.get('/notifications').set(bearer(busy)).expect(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/^rate limit reached: at most 5 requests a minute per API key; retry in \d+ s$/),
    });
    await t.http.get('/invoices').set(bearer(calm)).expect(200);
    // Health probes are never limited.
    for (let i = 0; i < 7; i++) expect([200, 503]).toContain((await t.http.get('/health')).status);
  });

  it('throttles an address that keeps presenting keys that are refused, not the valid keys from it', async () => {
    const t = await app({ RATE_LIMIT: '5' });
    const valid = await createKey(t.db, 'valid', ['invoices:read']);
    await reloadKeys(t);
    for (let i = 0; i < 5; i++) await t.http.get('/invoices').set(bearer(`rck_guess_${i}`)).expect(401);
    const refused = await t.http.get('/invoices').set(bearer('rck_guess_6')).expect(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.body.message).toMatch(/^too many requests without a valid API key from this address; retry in \d+ s$/);
    await t.http.get('/invoices').expect(429); // no key at all counts too
    await t.http.get('/invoices').set(bearer(valid)).expect(200);
  });

  it('does not count WebSocket messages against the HTTP RATE_LIMIT', async () => {
    const t = await app({ RATE_LIMIT: '2', WS_RATE_LIMIT: '0' });
    const token = await createKey(t.db, 'ws-only', ['events:subscribe']);
    const other = await createKey(t.db, 'ws-other', ['events:subscribe']);
    await reloadKeys(t);
    const [one, two] = [await connect(t, token), await connect(t, other)];
    for (let i = 0; i < 4; i++) expect((await one.subscribe({ tables: ['invoices'] })).ok).toBe(true);
    expect((await two.subscribe({})).ok).toBe(true);
  });

  it('answers WebSocket messages over WS_RATE_LIMIT a minute with a RATE_LIMITED ack', async () => {
    const t = await app({ WS_RATE_LIMIT: '3' });
    const token = await createKey(t.db, 'chatty', ['events:subscribe']);
    await reloadKeys(t);
    const client = await connect(t, token);
    for (let i = 0; i < 3; i++) expect((await client.subscribe({ tables: ['invoices'] })).ok).toBe(true);
    const refused = await client.subscribe({ tables: ['invoices'] });
    expect(refused).toEqual({
      ok: false,
      error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^at most 3 messages a minute per API key; retry in \d+ s$/) },
    });
    // Counted per key, not per socket: a second connection of the same key is limited too.
    const second = await connect(t, token);
    expect((await second.unsubscribe({ subscriptionId: 'x' })).error?.code).toBe('RATE_LIMITED');
  });

  it('refuses connections over WS_MAX_CONNECTIONS_PER_KEY, and subscriptions over WS_MAX_SUBSCRIPTIONS', async () => {
    const t = await app({ WS_MAX_CONNECTIONS_PER_KEY: '2', WS_MAX_SUBSCRIPTIONS: '2' });
    const token = await createKey(t.db, 'few', ['events:subscribe']);
    await reloadKeys(t);
    const first = await connect(t, token);
    await connect(t, token);
    await expect(connectClient(t.url, { token })).rejects.toMatchObject({
      message: 'the API key few already has 2 connections to this instance (the most allowed)',
      data: { code: 'TOO_MANY_CONNECTIONS' },
    });
    first.close();
    // The closed connection frees its place.
    const third = await waitFor(() => connectClient(t.url, { token }).catch(() => undefined), { what: 'a free place' });
    clients.push(third);
    expect((await third.subscribe({})).ok).toBe(true);
    expect((await third.subscribe({})).ok).toBe(true);
    expect((await third.subscribe({})).error).toEqual({ code: 'TOO_MANY_SUBSCRIPTIONS', message: 'a connection may hold at most 2 subscriptions' });
  });

  it('answers 413 to a body over BODY_LIMIT, and stores nothing', async () => {
    const t = await app({ BODY_LIMIT: '1kb' });
    const token = await createKey(t.db, 'writer', ['invoices:write']);
    await reloadKeys(t);
    const invoiceNo = `BIG-${randomUUID()}`;
    const response = await t.http
      .post('/invoices')
      .set(bearer(token))
      .send({ invoiceNo, items: Array.from({ length: 100 }, () => ({ quantity: 1, amountPerUnit: 1 })) })
      .expect(413);
    expect(response.body).toEqual({ statusCode: 413, error: 'Payload Too Large', message: 'request body too large' });
    const { rows } = await t.db.sql.query('SELECT count(*)::int AS n FROM invoices WHERE invoice_no = $1', [invoiceNo]);
    expect(rows[0].n).toBe(0);
  });

  it('revokes a key on every instance within a second, closing its WebSocket connections', async () => {
    const db = await createTestDatabase();
    const token = await createKey(db, 'short-lived', ['invoices:read', 'events:subscribe']);
    const [one, two] = [await app({}, db), await app({}, db)];
    const sockets = [await connect(one, token), await connect(two, token)];
    const notices = sockets.map(notice);
    const disconnects = sockets.map(closed);
    for (const t of [one, two]) await t.http.get('/invoices').set(bearer(token)).expect(200);

    await revokeKey(db, 'short-lived');
    const revokedAt = Date.now();
    await Promise.all(
      [one, two].map((t) =>
        waitFor(async () => (await t.http.get('/invoices').set(bearer(token))).status === 401, { timeout: 5_000, what: 'a 401' }),
      ),
    );
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    expect(await Promise.all(notices)).toEqual([
      { code: 'KEY_REVOKED', message: 'the API key of this connection was revoked' },
      { code: 'KEY_REVOKED', message: 'the API key of this connection was revoked' },
    ]);
    expect(await Promise.all(disconnects)).toEqual(['io server disconnect', 'io server disconnect']);
    await Promise.all(apps.splice(0).map((t) => t.close()));
    await db.drop();
  });

  it('closes connections made without a key once the first key exists', async () => {
    const t = await app();
    const open = await connect(t);
    expect((await open.subscribe({})).ok).toBe(true);
    await t.http.get('/invoices').expect(200);
    const told = notice(open);
    await createKey(t.db, 'first', ['admin']);
    expect(await told).toEqual({ code: 'UNAUTHORIZED', message: 'API keys are now required: reconnect with auth: {token}' });
    await t.http.get('/invoices').expect(401);
  });
});
