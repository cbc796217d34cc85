import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Scope, SCOPES } from '../../src/auth/api-key.js';
import { ApiKeyStore } from '../../src/auth/api-key.store.js';
import { UNKNOWN_KEY_RELOADS_PER_SECOND } from '../../src/auth/api-keys.service.js';
import { createTestApp, TestApp } from '../support/app.js';
import { bearer, createKey, reloadKeys, revokeKey } from '../support/keys.js';
import { waitForNotifications } from '../support/notifications.js';
import { connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';

type Method = 'get' | 'post' | 'patch' | 'delete';

/** Every route but /health, and the scope it needs; checked against the OpenAPI document. */
const ROUTES: [Method, string, Scope][] = [
  ['post', '/invoices', 'invoices:write'],
  ['get', '/invoices', 'invoices:read'],
  ['get', '/invoices/{id}', 'invoices:read'],
  ['patch', '/invoices/{id}', 'invoices:write'],
  ['delete', '/invoices/{id}', 'invoices:write'],
  ['post', '/invoices/{id}/items', 'invoices:write'],
  ['patch', '/invoices/{id}/items/{itemId}', 'invoices:write'],
  ['delete', '/invoices/{id}/items/{itemId}', 'invoices:write'],
  ['get', '/notifications', 'notifications:read'],
  ['get', '/notifications/{id}', 'notifications:read'],
  ['get', '/notifications/{id}/deliveries', 'admin'],
  ['get', '/tables', 'notifications:read'],
  ['get', '/metrics', 'admin'],
  ['post', '/webhooks', 'webhooks:manage'],
  ['get', '/webhooks', 'webhooks:manage'],
  ['get', '/webhooks/{id}', 'webhooks:manage'],
  ['patch', '/webhooks/{id}', 'webhooks:manage'],
  ['delete', '/webhooks/{id}', 'webhooks:manage'],
  ['post', '/webhooks/{id}/resume', 'webhooks:manage'],
  ['post', '/webhooks/{id}/rotate-secret', 'webhooks:manage'],
  ['post', '/webhooks/{id}/redeliver', 'webhooks:manage'],
  ['get', '/webhooks/{id}/deliveries', 'webhooks:manage'],
  ['get', '/webhooks/{id}/dead-letters', 'webhooks:manage'],
  ['post', '/sinks', 'sinks:manage'],
  ['get', '/sinks', 'sinks:manage'],
  ['get', '/sinks/{id}', 'sinks:manage'],
  ['patch', '/sinks/{id}', 'sinks:manage'],
  ['delete', '/sinks/{id}', 'sinks:manage'],
  ['post', '/sinks/{id}/resume', 'sinks:manage'],
  ['post', '/sinks/{id}/redeliver', 'sinks:manage'],
  ['get', '/sinks/{id}/deliveries', 'sinks:manage'],
  ['get', '/sinks/{id}/dead-letters', 'sinks:manage'],
  ['post', '/consumers', 'consumers:manage'],
  ['get', '/consumers', 'consumers:manage'],
  ['get', '/consumers/{name}', 'consumers:manage'],
  ['patch', '/consumers/{name}', 'consumers:manage'],
  ['delete', '/consumers/{name}', 'consumers:manage'],
  ['post', '/consumers/{name}/receive', 'consumers:consume'],
  ['post', '/consumers/{name}/ack', 'consumers:consume'],
  ['post', '/consumers/{name}/nack', 'consumers:consume'],
  ['post', '/consumers/{name}/extend', 'consumers:consume'],
  ['post', '/consumers/{name}/term', 'consumers:consume'],
  ['get', '/consumers/{name}/dead-letters', 'consumers:manage'],
  ['post', '/consumers/{name}/dead-letters/redeliver', 'consumers:manage'],
  ['delete', '/consumers/{name}/dead-letters', 'consumers:manage'],
  ['post', '/consumers/{name}/seek', 'consumers:manage'],
  ['post', '/backfills', 'admin'],
  ['get', '/backfills', 'admin'],
  ['get', '/backfills/{id}', 'admin'],
  ['post', '/backfills/{id}/pause', 'admin'],
  ['post', '/backfills/{id}/resume', 'admin'],
  ['post', '/backfills/{id}/cancel', 'admin'],
];

describe('API keys', () => {
  let t: TestApp;
  const tokens = new Map<string, string>();
  let revoked: string;

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    for (const scope of SCOPES) tokens.set(scope, await createKey(t.db, scope.replace(':', '-'), [scope]));
    // Every scope but one (and not admin, which holds them all): refused only where that one is needed.
    for (const scope of SCOPES.filter((s) => s !== 'admin')) {
      const others = SCOPES.filter((s) => s !== scope && s !== 'admin');
      tokens.set(`all-but-${scope}`, await createKey(t.db, `all-but-${scope.replace(':', '-')}`, others));
    }
    revoked = await createKey(t.db, 'gone', [...SCOPES]);
    await revokeKey(t.db, 'gone');
    await reloadKeys(t);
  });
  afterAll(() => t.close());

  const request = (method: Method, path: string, headers: Record<string, string> = {}) => {
    const url = path.replace('/notifications/{id}', '/notifications/1').replace('{id}', randomUUID()).replace('{itemId}', randomUUID()).replace('{name}', 'no-such-group');
    const call = t.http[method](url);
    for (const [name, value] of Object.entries(headers)) call.set(name, value);
    return method === 'post' || method === 'patch' ? call.send({}) : call;
  };

  it('lists every route of the OpenAPI document', async () => {
    const { body: doc } = await t.http.get('/docs-json').expect(200);
    const documented = Object.entries(doc.paths as Record<string, object>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
      .filter((route) => route !== 'get /health');
    expect(documented.sort()).toEqual(ROUTES.map(([method, path]) => `${method} ${path}`).sort());
  });

  describe.each(ROUTES)('%s %s', (method, path, scope) => {
    it('is refused without a key, with a wrong, malformed or revoked key, and without its scope', async () => {
      const missing = await request(method, path);
      expect(missing.status).toBe(401);
      expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(missing.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.stringContaining('Authorization: Bearer') });

      const good = tokens.get(scope)!;
      const wrongSecret = good.slice(0, -4) + (good.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      for (const token of [wrongSecret, 'not-a-key', `${good}x`]) {
        const wrong = await request(method, path, bearer(token));
        expect(wrong.status, token).toBe(401);
        expect(wrong.body.message).toBe('the API key is not valid');
      }
      const basic = await request(method, path, { Authorization: `Basic ${Buffer.from(`x:${good}`).toString('base64')}` });
      expect(basic.status).toBe(401);

      const gone = await request(method, path, bearer(revoked));
      expect(gone.status).toBe(401);
      expect(gone.body.message).toBe('the API key gone was revoked');

      if (scope !== 'admin') {
        const lacking = await request(method, path, bearer(tokens.get(`all-but-${scope}`)!));
        expect(lacking.status).toBe(403);
        expect(lacking.body.message).toContain(`lacks the scope ${scope}`);
      }
      for (const other of SCOPES.filter((s) => s !== scope && s !== 'admin')) {
        expect((await request(method, path, bearer(tokens.get(other)!))).status, other).toBe(403);
      }
    });

    it('is allowed with its scope, and with admin', async () => {
      for (const token of [tokens.get(scope)!, tokens.get('admin')!]) {
        const response = await request(method, path, bearer(token));
        expect([401, 403, 429]).not.toContain(response.status);
        expect(response.status).toBeLessThan(500);
      }
    });
  });

  it('leaves /health, the docs and the dashboard page open', async () => {
    expect([200, 503]).toContain((await t.http.get('/health')).status);
    await t.http.get('/docs-json').expect(200);
    await t.http.get('/docs/asyncapi.yaml').expect(200);
    await t.http.get('/').expect(200);
  });

  it('makes the key name the actor of writes, whatever X-Actor says', async () => {
    const created = await t.http
      .post('/invoices')
      .set(bearer(tokens.get('invoices:write')!))
      .set('X-Actor', 'mallory')
      .send({ invoiceNo: `ACT-${randomUUID()}` })
      .expect(201);
    const [notification] = await waitForNotifications(t.db.sql, 1, {
      where: `payload->'new'->>'id' = $1`,
      values: [created.body.id],
    });
    expect(notification.payload.actor).toBe('invoices-write');
  });

  it('accepts a new key the moment it is created (as `npm run keys -- create` does), with no wait for a reload', async () => {
    // Several, each used at once: a periodic reload falling in between cannot make this pass.
    for (let i = 0; i < 5; i++) {
      const token = await createKey(t.db, `fresh-${i}`, ['invoices:read']);
      await t.http.get('/invoices').set(bearer(token)).expect(200);
    }
  });

  // Before the test below: its flood of unknown ids spends this second's look-ups.
  it('accepts a new key on the WebSocket the moment it is created, too', async () => {
    for (let i = 0; i < 3; i++) {
      const token = await createKey(t.db, `fresh-ws-${i}`, ['events:subscribe']);
      const client = await connectClient(t.url, { token });
      try {
        expect((await client.subscribe({})).ok).toBe(true);
      } finally {
        client.close();
      }
    }
  });

  it('bounds the reloads that tokens naming unknown key ids cause', async () => {
    const reloads = vi.spyOn(ApiKeyStore, 'all');
    try {
      const madeUp = () => `rck_${randomUUID().replaceAll('-', '')}_${'A'.repeat(43)}`;
      const answers = await Promise.all(Array.from({ length: 60 }, () => t.http.get('/invoices').set(bearer(madeUp()))));
      expect(answers.every((answer) => answer.status === 401)).toBe(true);
      // Within at most two one-second windows, and a periodic reload or two.
      expect(reloads.mock.calls.length).toBeLessThanOrEqual(2 * UNKNOWN_KEY_RELOADS_PER_SECOND + 3);
    } finally {
      reloads.mockRestore();
    }
  });

  it('limits a key to its tables in the notification log', async () => {
    const limited = await createKey(t.db, 'invoices-only', ['notifications:read'], ['invoices']);
    await reloadKeys(t);
    const invoice = await t.http
      .post('/invoices')
      .set(bearer(tokens.get('admin')!))
      .send({ invoiceNo: `TBL-${randomUUID()}`, items: [{ quantity: 1, amountPerUnit: 5 }] })
      .expect(201);
    await waitForNotifications(t.db.sql, 1, { where: `payload->'new'->>'invoice_id' = $1`, values: [invoice.body.id] });

    const page = await t.http.get('/notifications?limit=1000').set(bearer(limited)).expect(200);
    expect(page.body.data.length).toBeGreaterThan(0);
    expect(new Set(page.body.data.map((n: { payload: { table: string } }) => n.payload.table))).toEqual(new Set(['invoices']));

    const refused = await t.http.get('/notifications?table=invoice_items').set(bearer(limited)).expect(403);
    expect(refused.body.message).toBe('the API key invoices-only may read only the tables invoices');

    const all = await t.http.get('/notifications?table=invoice_items&limit=1').set(bearer(tokens.get('admin')!)).expect(200);
    await t.http.get(`/notifications/${all.body.data[0].id}`).set(bearer(limited)).expect(404);
    await t.http.get(`/notifications/${page.body.data[0].id}`).set(bearer(limited)).expect(200);
  });

  describe('on the WebSocket', () => {
    const clients: TestClient[] = [];
    const connect = async (token?: string) => {
      const client = await connectClient(t.url, { token });
      clients.push(client);
      return client;
    };
    const refusal = (token?: string) =>
      connect(token).then(
        () => {
          throw new Error('the handshake was accepted');
        },
        (error: Error & { data?: { code: string } }) => ({ message: error.message, code: error.data?.code }),
      );
    afterAll(() => clients.forEach((client) => client.close()));

    it('refuses a handshake without a key, with a wrong or revoked key, or without events:subscribe', async () => {
      expect(await refusal()).toEqual({ code: 'UNAUTHORIZED', message: expect.stringContaining('API key is required') });
      expect(await refusal('rck_nope')).toEqual({ code: 'UNAUTHORIZED', message: 'the API key is not valid' });
      expect(await refusal(revoked)).toEqual({ code: 'UNAUTHORIZED', message: 'the API key gone was revoked' });
      expect(await refusal(tokens.get('all-but-events:subscribe'))).toEqual({
        code: 'FORBIDDEN',
        message: 'the API key all-but-events-subscribe lacks the scope events:subscribe',
      });
    });

    it('serves only the /events namespace: the default one is refused even with a key', async () => {
      const { io } = await import('socket.io-client');
      for (const transport of ['websocket', 'polling']) {
        const root = io(`${t.url}/`, { transports: [transport], forceNew: true, reconnection: false, auth: { token: tokens.get('admin') } });
        const error = await new Promise<Error>((resolve, reject) => {
          root.once('connect', () => reject(new Error(`the default namespace accepted a ${transport} connection`)));
          root.once('connect_error', resolve);
        });
        root.close();
        expect(error.message).toBe('connect to the /events namespace');
      }
    });

    it('accepts events:subscribe, by auth token or by Authorization header', async () => {
      const client = await connect(tokens.get('events:subscribe'));
      expect((await client.subscribe({ events: ['invoices.*'] })).ok).toBe(true);
      const { io } = await import('socket.io-client');
      const byHeader = io(`${t.url}/events`, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        extraHeaders: bearer(tokens.get('admin')!),
      });
      await new Promise<void>((resolve, reject) => {
        byHeader.once('connect', resolve);
        byHeader.once('connect_error', reject);
      });
      byHeader.close();
    });

    it('keeps a table-limited key to its tables', async () => {
      const limited = await createKey(t.db, 'ws-invoices-only', ['events:subscribe'], ['invoices']);
      await reloadKeys(t);
      const client = await connect(limited);
      const refused = await client.subscribe({ tables: ['invoice_items'] });
      expect(refused).toEqual({
        ok: false,
        error: { code: 'FORBIDDEN', message: 'this API key may not read invoice_items; it may read invoices' },
      });
      expect((await client.subscribe({})).ok).toBe(true);
      const invoice = await t.http
        .post('/invoices')
        .set(bearer(tokens.get('admin')!))
        .send({ invoiceNo: `WS-${randomUUID()}`, items: [{ quantity: 2, amountPerUnit: 3 }] })
        .expect(201);
      // The item insert also updates the invoice's total: three notifications, two of them on invoices.
      await waitFor(() => client.received.filter((n) => n.payload.new?.id === invoice.body.id).length === 2, {
        what: 'both invoice notifications',
      });
      const all = await waitForNotifications(t.db.sql, 3, {
        where: `$1 IN (payload->'new'->>'id', payload->'new'->>'invoice_id')`,
        values: [invoice.body.id],
      });
      expect(all).toHaveLength(3);
      expect(client.received.every((n) => n.payload.table === 'invoices')).toBe(true);
    });
  });
});
