import { Ajv } from 'ajv';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { waitForNotifications } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';
import { ReceivedRequest, WebhookReceiver } from '../support/webhook-receiver.js';

/** Retries in milliseconds, not hours: ten of them over about 4 s, so a phase of failures never exhausts one. */
const FAST_RETRIES = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_SCHEDULE: '10ms,20ms,40ms,80ms,160ms,320ms,500ms,1s,1s,1s',
  WEBHOOK_TIMEOUT_MS: '300',
  SINK_LEASE_MS: '1000',
};

interface CreatedWebhook {
  id: string;
  secret: string;
  position: string;
  state: string;
}

/** Ids of the notifications a webhook with `where` should get after `after`, ascending. */
async function expectedIds(db: TestDatabase, after: string, where: string): Promise<string[]> {
  const { rows } = await db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.id > $1 AND ${where} ORDER BY n.id`, [after]);
  return rows.map((row) => row.id);
}

/** Each request's signature verifies with the secret, by the standardwebhooks package's own verifier. */
function verifyAll(requests: readonly ReceivedRequest[], secret: string): void {
  const verifier = new Webhook(secret);
  for (const request of requests) expect(() => verifier.verify(request.body, request.headers)).not.toThrow();
}

/** Each request is what the OpenAPI document's `webhooks` says a receiver gets: its headers, and a body of its schema. */
async function expectAsDocumented(t: TestApp, requests: readonly ReceivedRequest[]): Promise<void> {
  const { body: doc } = await t.http.get('/docs-json').expect(200);
  const post = doc.webhooks.notification.post as { parameters: { name: string; in: string; schema: { pattern?: string } }[] };
  const ajv = new Ajv({ strict: false, validateFormats: false });
  ajv.addSchema({ ...doc, $id: 'openapi' });
  const validate = ajv.getSchema('openapi#/webhooks/notification/post/requestBody/content/application~1json/schema')!;
  for (const request of requests) {
    expect(validate(JSON.parse(request.body)), JSON.stringify(validate.errors)).toBe(true);
    for (const header of post.parameters.filter((p) => p.in === 'header')) {
      expect(request.headers[header.name], header.name).toMatch(new RegExp(header.schema.pattern ?? '.'));
    }
  }
}

/** In log order: ids never go back, and no id the receiver accepted comes again. */
function expectInOrderOnceAccepted(requests: readonly ReceivedRequest[]): void {
  const accepted = new Set<string>();
  let last = 0n;
  for (const request of requests) {
    expect(BigInt(request.id)).toBeGreaterThanOrEqual(last);
    expect(accepted.has(request.id), `id ${request.id} accepted twice`).toBe(false);
    last = BigInt(request.id);
    if (request.answer === 'ok') accepted.add(request.id);
  }
}

async function insertItems(db: TestDatabase, writers: number, each: number, prefix: string): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      const { rows } = await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [`${prefix}-${writer}`]);
      for (let i = 0; i < each; i++) {
        await db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, $2)`, [rows[0].id, i + 1]);
      }
    }),
  );
}

describe('webhooks', () => {
  let t: TestApp;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    t = await createTestApp({ env: FAST_RETRIES });
  });
  afterAll(() => t.close());
  afterEach(() => receiver?.close());

  const create = async (body: Record<string, unknown>): Promise<CreatedWebhook> => {
    const response = await t.http.post('/webhooks').send(body);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return response.body as CreatedWebhook;
  };

  it('delivers a 2,000-change burst in log order, signed, through failures, timeouts and refused connections', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    // 1,300 accepted, 5 failures (500), 100 accepted, 3 left hanging (the sender times out), then
    // accepted; the test closes the port (refused) once 1,500 requests came, and opens it again
    // later. Late in the burst, so the deliveries list (the newest 1,000 attempts) shows them all.
    receiver.answer = (_request, index) => (index >= 1300 && index < 1305 ? 'fail' : index >= 1405 && index < 1408 ? 'hang' : 'ok');
    const webhook = await create({ name: 'burst', url: receiver.url, events: ['invoice_items.*'] });
    expect(webhook.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const writing = insertItems(t.db, 4, 500, 'BURST');
    await waitFor(() => receiver.requests.length >= 1_500, { timeout: 30_000, what: '1,500 requests' });
    await receiver.refuse();
    const refused = async () => {
      const attempts = (await t.http.get(`/webhooks/${webhook.id}/deliveries?limit=1000`)).body as { detail: string }[];
      return attempts.filter((attempt) => attempt.detail === 'connection refused').length >= 2;
    };
    await waitFor(refused, { timeout: 10_000, what: 'two refused attempts' });
    await receiver.accept();
    await writing;

    const expected = await expectedIds(t.db, webhook.position, `n.event LIKE 'invoice_items.%'`);
    expect(expected).toHaveLength(2_000);
    await waitFor(() => receiver.delivered.length >= expected.length, { timeout: 30_000, what: 'every notification accepted' });
    expect(receiver.delivered).toEqual(expected);
    expectInOrderOnceAccepted(receiver.requests);
    verifyAll(receiver.requests, webhook.secret);
    const answers = new Set(receiver.requests.map((request) => request.answer));
    expect([...answers].sort()).toEqual(['fail', 'hang', 'ok']);

    const attempts = (await t.http.get(`/webhooks/${webhook.id}/deliveries?limit=1000`)).body as {
      statusCode?: number;
      detail: string;
      delivered: boolean;
    }[];
    expect(attempts.some((a) => a.statusCode === 500 && a.detail === 'HTTP 500: receiver failed on purpose' && !a.delivered)).toBe(true);
    expect(attempts.some((a) => a.detail === 'timed out after 300 ms')).toBe(true);
    expect(attempts.some((a) => a.statusCode === 204 && a.delivered)).toBe(true);
    // Caught up: the position is the log's end (later invoice total updates passed over), state active again.
    const { rows } = await t.db.sql.query(`SELECT max(n.id)::text AS id FROM notifications n`);
    const state = await waitFor(
      async () => {
        const body = (await t.http.get(`/webhooks/${webhook.id}`)).body as CreatedWebhook;
        return body.position === rows[0].id ? body : undefined;
      },
      { what: 'the position at the end of the log' },
    );
    expect(state.state).toBe('active');
    expect(JSON.stringify(state)).not.toContain(webhook.secret);
    const metrics = (await t.http.get('/metrics')).text;
    expect(metrics).toMatch(/^rowcast_sink_deliveries_total\{sink="burst",kind="webhook"\} 2000$/m);
    expect(metrics).toMatch(/^rowcast_sink_lag_notifications\{sink="burst",kind="webhook"\} 0$/m);
    expect(metrics).toMatch(/rowcast_sink_retries_total\{sink="burst",kind="webhook"\} [1-9]/);
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  }, 90_000);

  it('counts each delivery once in /metrics, however often it is scraped', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    const webhook = await create({ name: 'scraped', url: receiver.url, events: ['invoices.created'] });
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('SCRAPED-1'), ('SCRAPED-2')`);
    await waitFor(() => receiver.delivered.length === 2, { what: 'both delivered' });
    const deliveries = async () => {
      const metrics = (await t.http.get('/metrics').expect(200)).text;
      return Number(/^rowcast_sink_deliveries_total\{sink="scraped",kind="webhook"\} (\S+)$/m.exec(metrics)?.[1]);
    };
    // The runner counts a delivery just after the receiver's answer: wait for it, then scrape again.
    await waitFor(async () => (await deliveries()) === 2, { what: 'two deliveries counted' });
    expect(await deliveries()).toBe(2);
    expect(await deliveries()).toBe(2);
    expect(receiver.delivered).toHaveLength(2);
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  });

  it('dead-letters a notification after its last retry, goes on, and redelivers dead letters on request', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    let poisoning = true;
    receiver.answer = (request) => (poisoning && request.body.includes('"DL-2"') ? 'fail' : 'ok');
    const webhook = await create({ name: 'dead-letters', url: receiver.url, tables: ['invoices'] });
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DL-1'), ('DL-2'), ('DL-3')`);
    const expected = await waitFor(async () => {
      const ids = await expectedIds(t.db, webhook.position, `n.table_name = 'invoices'`);
      return ids.length === 3 ? ids : undefined;
    });
    const poisoned = expected[1];

    await waitFor(() => receiver.delivered.length >= 2, { what: 'the other two delivered' });
    expect(receiver.delivered).toEqual([expected[0], expected[2]]);
    expect(receiver.requests.filter((request) => request.id === poisoned)).toHaveLength(11); // 1 + 10 retries
    const deadLetters = (await t.http.get(`/webhooks/${webhook.id}/dead-letters`).expect(200)).body;
    expect(deadLetters).toEqual([
      { notificationId: poisoned, attempts: 11, lastError: 'HTTP 500: receiver failed on purpose', createdAt: expect.any(String) },
    ]);
    expect((await t.http.get(`/webhooks/${webhook.id}`)).body.lastError).toContain('dead-lettered after 11 attempts');

    poisoning = false;
    expect((await t.http.post(`/webhooks/${webhook.id}/redeliver`).send({ deadLetters: true }).expect(202)).body).toMatchObject({ queued: 1 });
    await waitFor(() => receiver.delivered.length >= 3, { what: 'the dead letter delivered' });
    expect(receiver.delivered).toEqual([expected[0], expected[2], expected[1]]);
    expect((await t.http.get(`/webhooks/${webhook.id}/dead-letters`)).body).toEqual([]);

    // Everything again from a cursor: the position moves back, and the same ids come again in order.
    await t.http.post(`/webhooks/${webhook.id}/redeliver`).send({ from: webhook.position }).expect(202);
    await waitFor(() => receiver.delivered.length >= 6, { what: 'the three again' });
    expect(receiver.delivered.slice(3)).toEqual(expected);
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  }, 30_000);

  it('says which notification it delivered last and when, while its position moves past what it passes over or fails on', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    const webhook = await create({ name: 'last-delivered', url: receiver.url, events: ['invoices.created'] });
    const sink = async () => (await t.http.get(`/sinks/${webhook.id}`).expect(200)).body as { position: string; state: string; lastDeliveredId: string | null; lastDeliveredAt: string | null };
    expect(await sink()).toMatchObject({ lastDeliveredId: null, lastDeliveredAt: null });

    const before = Date.now();
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('LAST-1'), ('LAST-2') RETURNING id`);
    await waitFor(() => receiver.delivered.length === 2, { what: 'both delivered' });
    // Passed over (not invoices.created): the position moves to the log's end, the last delivered stays.
    await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 1)`, [rows[0].id]);
    const [item] = await waitForNotifications(t.db.sql, 1, { where: `event = 'invoice_items.created' AND payload->'new'->>'invoice_id' = $1`, values: [rows[0].id] });
    const passedOver = await waitFor(async () => {
      const body = await sink();
      return BigInt(body.position) >= BigInt(item.id) ? body : undefined;
    }, { what: 'the position past the item' });
    expect(passedOver.lastDeliveredId).toBe(receiver.delivered[1]);
    expect(BigInt(passedOver.position)).toBeGreaterThan(BigInt(receiver.delivered[1]));
    expect(Date.parse(passedOver.lastDeliveredAt!)).toBeGreaterThanOrEqual(before - 1000); // the database's clock
    expect(Date.parse(passedOver.lastDeliveredAt!)).toBeLessThanOrEqual(Date.now() + 1000);

    receiver.answer = () => 'fail';
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('LAST-3')`);
    const failing = await waitFor(async () => {
      const body = await sink();
      return body.state === 'failing' ? body : undefined;
    }, { what: 'the sink failing' });
    expect(failing).toMatchObject({ lastDeliveredId: passedOver.lastDeliveredId, lastDeliveredAt: passedOver.lastDeliveredAt });
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  });

  it('sends a notification its receiver answers 413 to again truncated, with a link to the whole one, and goes on in order', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    receiver.answer = (request) => (request.body.length > 4096 ? 'too-large' : 'ok');
    await t.db.sql.query(`CREATE TABLE wide_rows (id int PRIMARY KEY, body text NOT NULL)`);
    await t.db.sql.query(`SELECT capture.enable('wide_rows')`);
    const webhook = await create({ name: 'wide', url: receiver.url, tables: ['wide_rows'] });
    await t.db.sql.query(`INSERT INTO wide_rows VALUES (1, 'small'), (2, repeat('x', 10000)), (3, 'small again')`);
    const expected = await waitFor(async () => {
      const ids = await expectedIds(t.db, webhook.position, `n.table_name = 'wide_rows'`);
      return ids.length === 3 ? ids : undefined;
    });

    await waitFor(() => receiver.delivered.length >= 3, { what: 'three delivered' });
    expect(receiver.delivered).toEqual(expected);
    expect(receiver.requests.map((request) => [request.id, request.answer])).toEqual([
      [expected[0], 'ok'],
      [expected[1], 'too-large'],
      [expected[1], 'ok'],
      [expected[2], 'ok'],
    ]);
    verifyAll(receiver.requests, webhook.secret);
    await expectAsDocumented(t, receiver.requests);
    const whole = (await t.http.get(`/notifications/${expected[1]}`).expect(200)).body as { createdAt: string; payload: Record<string, unknown> };
    const { new: _new, old: _old, changedColumns: _changed, ...keys } = whole.payload;
    expect(JSON.parse(receiver.requests[2].body)).toEqual({
      id: expected[1],
      event: 'wide_rows.created',
      createdAt: whole.createdAt,
      truncated: true,
      href: `/notifications/${expected[1]}`,
      payload: keys,
    });
    expect(keys).toMatchObject({ table: 'wide_rows', op: 'INSERT', pk: { id: 2 } });
    expect(JSON.parse(receiver.requests[3].body)).not.toHaveProperty('truncated');

    const attempts = (await t.http.get(`/webhooks/${webhook.id}/deliveries`)).body as { notificationId: string; statusCode: number; delivered: boolean; detail: string }[];
    expect(attempts.filter((attempt) => attempt.notificationId === expected[1])).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ statusCode: 413, delivered: false, detail: 'HTTP 413: body too large' }),
        expect.objectContaining({ statusCode: 204, delivered: true, detail: 'HTTP 204 (sent truncated: HTTP 413: body too large)' }),
      ]),
    );
    const { rows } = await t.db.sql.query(`SELECT max(id)::text AS id FROM notifications`);
    await waitFor(async () => (await t.http.get(`/webhooks/${webhook.id}`)).body.position === rows[0].id, { what: 'the position at the log end' });
    expect((await t.http.get(`/webhooks/${webhook.id}`)).body).toMatchObject({ state: 'active', lastError: null });
    expect((await t.http.get(`/webhooks/${webhook.id}/dead-letters`)).body).toEqual([]);
    const metrics = (await t.http.get('/metrics')).text;
    expect(metrics).toMatch(/^rowcast_sink_truncated_deliveries_total\{sink="wide",kind="webhook",reason="http_413"\} 1$/m);
    expect(metrics).toMatch(/^rowcast_sink_deliveries_total\{sink="wide",kind="webhook"\} 3$/m);
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  }, 30_000);

  it('retries and dead-letters a notification its receiver refuses even truncated, as any failure', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    // The truncated body no longer names the invoice: refused by its id, once its first body was.
    const refused = new Set<string>();
    receiver.answer = (request) => {
      if (request.body.includes('"TL-2"')) refused.add(request.id);
      return refused.has(request.id) ? 'too-large' : 'ok';
    };
    const webhook = await create({ name: 'too-large', url: receiver.url, tables: ['invoices'], events: ['invoices.created'] });
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('TL-1'), ('TL-2'), ('TL-3')`);
    const expected = await waitFor(async () => {
      const ids = await expectedIds(t.db, webhook.position, `n.event = 'invoices.created'`);
      return ids.length === 3 ? ids : undefined;
    });

    await waitFor(() => receiver.delivered.length >= 2, { what: 'the other two delivered' });
    expect(receiver.delivered).toEqual([expected[0], expected[2]]);
    const poisoned = receiver.requests.filter((request) => request.id === expected[1]);
    // 1 + 10 retries, each whole and then truncated.
    expect(poisoned.map((request) => 'truncated' in JSON.parse(request.body))).toEqual(Array.from({ length: 22 }, (_, i) => i % 2 === 1));
    const lastError = 'HTTP 413: body too large; sent truncated instead: HTTP 413: body too large';
    expect((await t.http.get(`/webhooks/${webhook.id}/dead-letters`).expect(200)).body).toEqual([
      { notificationId: expected[1], attempts: 11, lastError, createdAt: expect.any(String) },
    ]);
    expect((await t.http.get('/metrics')).text).not.toContain('rowcast_sink_truncated_deliveries_total{sink="too-large"');
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  }, 30_000);

  it('pauses at a notification it gave up on when so configured, and resumes with it', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    let failing = true;
    receiver.answer = () => (failing ? 'redirect' : 'ok');
    const webhook = await create({ name: 'pauses', url: receiver.url, tables: ['invoices'], onExhausted: 'pause' });
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('P-1'), ('P-2')`);
    const paused = await waitFor(async () => {
      const body = (await t.http.get(`/webhooks/${webhook.id}`)).body as CreatedWebhook & { lastError: string };
      return body.state === 'paused' ? body : undefined;
    });
    expect(paused.lastError).toContain('HTTP 302 (redirects are not followed)');
    expect(paused.position).toBe(webhook.position);
    expect(receiver.delivered).toEqual([]);

    failing = false;
    expect((await t.http.post(`/webhooks/${webhook.id}/resume`).expect(200)).body.state).toBe('active');
    const expected = await expectedIds(t.db, webhook.position, `n.table_name = 'invoices'`);
    await waitFor(() => receiver.delivered.length >= 2, { what: 'both delivered after resume' });
    expect(receiver.delivered).toEqual(expected);
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  });

  it('delivers every other sink on time while one receiver hangs', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    const stuck = new WebhookReceiver();
    await stuck.accept();
    stuck.answer = () => 'hang';
    try {
      const slow = await create({ name: 'hangs', url: stuck.url, tables: ['invoices'] });
      const fast = await create({ name: 'answers', url: receiver.url, tables: ['invoices'] });
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'HANG-' || g FROM generate_series(1, 300) g`);
      const expected = await waitFor(async () => {
        const ids = await expectedIds(t.db, fast.position, `n.table_name = 'invoices'`);
        return ids.length === 300 ? ids : undefined;
      });
      await waitFor(() => receiver.delivered.length >= 300, { what: 'the answering sink to get all 300' });
      expect(receiver.delivered).toEqual(expected);
      // The hanging one is still at its first notification, retrying it.
      const state = await waitFor(async () => {
        const body = (await t.http.get(`/webhooks/${slow.id}`)).body as CreatedWebhook & { lastError: string };
        return body.state === 'failing' ? body : undefined;
      });
      expect(state).toMatchObject({ position: slow.position, lastError: `notification ${expected[0]}: timed out after 300 ms` });
      expect(new Set(stuck.requests.map((request) => request.id))).toEqual(new Set([expected[0]]));
      await t.http.delete(`/webhooks/${slow.id}`).expect(204);
      await t.http.delete(`/webhooks/${fast.id}`).expect(204);
    } finally {
      await stuck.close();
    }
  });

  it('signs with both secrets while a rotated one overlaps, so receivers holding either verify', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    const webhook = await create({ name: 'rotates', url: receiver.url, tables: ['invoices'] });
    const rotated = (await t.http.post(`/webhooks/${webhook.id}/rotate-secret`).send({ overlapSeconds: 3600 }).expect(200)).body;
    expect(rotated.secret).not.toBe(webhook.secret);
    expect(new Date(rotated.previousSecretExpiresAt).getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('R-1')`);
    await waitFor(() => receiver.delivered.length >= 1, { what: 'a delivery' });
    expect(receiver.requests[0].headers['webhook-signature'].split(' ')).toHaveLength(2);
    verifyAll(receiver.requests, webhook.secret);
    verifyAll(receiver.requests, rotated.secret);

    // Without overlap the old secret stops at once.
    const again = (await t.http.post(`/webhooks/${webhook.id}/rotate-secret`).send({ overlapSeconds: 0 }).expect(200)).body;
    expect(again.previousSecretExpiresAt).toBeNull();
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('R-2')`);
    await waitFor(() => receiver.delivered.length >= 2, { what: 'a second delivery' });
    const last = receiver.requests.at(-1)!;
    verifyAll([last], again.secret);
    expect(() => new Webhook(rotated.secret).verify(last.body, last.headers)).toThrow();

    // A bare POST (no body, so no Content-Type either): the default overlap, a day.
    const bare = await t.http.post(`/webhooks/${webhook.id}/rotate-secret`).expect(200);
    expect(new Date(bare.body.previousSecretExpiresAt).getTime()).toBeGreaterThan(Date.now() + 86_300_000);
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  });

  it('delivers one net change per row per transaction with coalesce: transaction, in order through failures, as documented', async () => {
    receiver = new WebhookReceiver();
    await receiver.accept();
    receiver.answer = (_request, index) => (index >= 10 && index < 13 ? 'fail' : 'ok');
    const webhook = await create({ name: 'net', url: receiver.url, tables: ['invoices', 'invoice_items'], coalesce: 'transaction' });
    expect(webhook).toMatchObject({ coalesce: 'transaction' });
    const writeInvoice = async (invoiceNo: string) => {
      const client = await t.db.sql.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [invoiceNo]);
        await client.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 5), ($1, 1, 3)`, [rows[0].id]);
        await client.query(`UPDATE invoice_items SET quantity = quantity + 1 WHERE invoice_id = $1`, [rows[0].id]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    };
    for (let i = 0; i < 20; i++) await writeInvoice(`NET-${i}`);

    // Per transaction: the invoice (created, with its final total 3 × 5 + 2 × 3), then its two items (created, as at commit).
    await waitFor(() => receiver.delivered.length >= 60, { timeout: 30_000, what: '60 net changes accepted' });
    const bodies = receiver.requests.filter((request) => request.answer === 'ok').map((request) => JSON.parse(request.body));
    expect(bodies).toHaveLength(60);
    for (let i = 0; i < 20; i++) {
      const [invoice, ...items] = bodies.slice(i * 3, i * 3 + 3);
      expect(invoice).toMatchObject({ event: 'invoices.created', payload: { op: 'INSERT', old: null, new: { invoice_no: `NET-${i}`, total_amount: 21 } } });
      expect(invoice.coalesced.map(BigInt)).toEqual([...invoice.coalesced.map(BigInt)].sort((a: bigint, b: bigint) => (a < b ? -1 : 1)));
      expect(invoice.coalesced[0]).toBe(invoice.id);
      expect(items.map((item) => [item.event, item.payload.new.quantity, item.coalesced.length])).toEqual([
        ['invoice_items.created', 3, 2],
        ['invoice_items.created', 2, 2],
      ]);
    }
    expectInOrderOnceAccepted(receiver.requests);
    verifyAll(receiver.requests, webhook.secret);
    await expectAsDocumented(t, receiver.requests);

    // Back to every change: the next transaction arrives change by change.
    expect((await t.http.patch(`/webhooks/${webhook.id}`).send({ coalesce: null }).expect(200)).body.coalesce).toBeNull();
    await writeInvoice('NET-raw');
    await waitFor(() => receiver.delivered.length >= 60 + 7, { timeout: 30_000, what: 'every change of the last transaction' });
    expect(receiver.requests.slice(-7).map((request) => JSON.parse(request.body)).map((n) => `${n.event}:${n.payload.new.total_amount}`)).toEqual([
      'invoices.created:0',
      'invoice_items.created:10',
      'invoice_items.created:3',
      'invoices.updated:13',
      'invoice_items.updated:15',
      'invoice_items.updated:6',
      'invoices.updated:21',
    ]);
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  });

  it('answers bad input on every route with a 4xx naming what is wrong', async () => {
    const bad: [string, string, Record<string, unknown> | undefined, number, RegExp][] = [
      ['post', '/webhooks', {}, 400, /url must be an http/],
      ['post', '/webhooks', { url: 'ftp://example.com/' }, 400, /url must be an http/],
      ['post', '/webhooks', { url: 'https://example.com/', events: ['no spaces'] }, 400, /events must be a non-empty array of event names/],
      ['post', '/webhooks', { url: 'https://example.com/', from: 'yesterday' }, 400, /from must be 'now', 'start' or a notification id/],
      ['post', '/webhooks', { url: 'https://example.com/', from: '999999999' }, 400, /after the newest notification/],
      ['post', '/webhooks', { url: 'https://example.com/', name: '-bad' }, 400, /name must be/],
      ['post', '/webhooks', { url: 'https://example.com/', onExhausted: 'explode' }, 400, /onExhausted must be one of/],
      ['post', '/webhooks', { url: 'https://example.com/', coalesce: 'row' }, 400, /^coalesce must be 'transaction', or null for every change$/],
      ['post', '/sinks', { kind: 'nats', coalesce: true, nats: { servers: ['nats://127.0.0.1:4222'] } }, 400, /^coalesce must be 'transaction'/],
      ['post', '/webhooks', { url: 'https://example.com/', secret: 'mine' }, 400, /property secret should not exist/],
      ['get', '/webhooks/not-a-uuid', undefined, 400, /id must be a UUID/],
      ['get', '/webhooks/00000000-0000-4000-8000-000000000000', undefined, 404, /webhook 00000000-0000-4000-8000-000000000000 not found/],
      ['patch', '/webhooks/00000000-0000-4000-8000-000000000000', { paused: 'yes' }, 400, /paused must be true or false/],
      ['post', '/webhooks/00000000-0000-4000-8000-000000000000/rotate-secret', { overlapSeconds: -1 }, 400, /overlapSeconds must not be less than 0/],
      ['get', '/webhooks/00000000-0000-4000-8000-000000000000/deliveries?limit=0', undefined, 400, /limit must not be less than 1/],
      ['post', '/sinks', { kind: 'kafka' }, 400, /kind must be one of webhook, rabbitmq, nats/],
      ['post', '/sinks', { kind: 'webhook' }, 400, /^webhook must be an object of webhook settings, at least \{"url":"https:.*\} \(required for kind webhook\)$/],
      ['post', '/sinks', { kind: 'webhook', webhook: { url: 'ftp://x' } }, 400, /^webhook.url must be an http/],
      ['post', '/sinks', { kind: 'nats', nats: { servers: ['nats://127.0.0.1:4222'] }, rabbitmq: { url: 'amqp://127.0.0.1' } }, 400, /^rabbitmq settings do not apply to kind nats/],
      ['post', '/sinks', { kind: 'rabbitmq' }, 400, /rabbitmq/],
      ['post', '/sinks', { kind: 'rabbitmq', rabbitmq: { url: 'http://x' } }, 400, /rabbitmq.url must be an amqp/],
      ['post', '/sinks', { kind: 'nats', nats: { servers: [] } }, 400, /nats.servers must name at least one server/],
      ['post', '/sinks', { kind: 'nats', nats: { servers: ['nats://127.0.0.1:4222'], subjectPrefix: 'a..b' } }, 400, /nats.subjectPrefix/],
      ['post', '/sinks', { kind: 'nats', nats: { servers: ['nats://me:secret@127.0.0.1:4222'] } }, 400, /nats.servers must not hold credentials/],
      ['post', '/sinks', { kind: 'rabbitmq', rabbitmq: { url: 'amqp://127.0.0.1:99999' } }, 400, /rabbitmq.url must be a valid URL/],
      ['post', '/sinks', { kind: 'rabbitmq', rabbitmq: { url: 'amqp://%zz:x@127.0.0.1' } }, 400, /rabbitmq.url must be a valid URL/],
      ['post', '/webhooks', { url: 'http://me:secret@127.0.0.1:9/x' }, 400, /url must not hold credentials/],
      ['post', '/webhooks', { url: 'https://example.com/', tables: ['invoices', 'nosuch'] }, 400, /^table nosuch is neither under capture nor in the log/],
      ['post', '/sinks', { kind: 'nats', tables: ['nosuch'], nats: { servers: ['nats://127.0.0.1:4222'] } }, 400, /table nosuch is neither/],
    ];
    for (const [method, path, body, status, message] of bad) {
      const request = (t.http as unknown as Record<string, (path: string) => { send(body?: object): Promise<{ status: number; body: { message: string } }> }>)[method](path);
      const response = await request.send(body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(response.body.message, `${method} ${path}`).toMatch(message);
    }
    const receiverless = await create({ name: 'taken', url: 'http://127.0.0.1:9/x' });
    const taken = await t.http.post('/webhooks').send({ name: 'taken', url: 'http://127.0.0.1:9/y' });
    expect(taken.status).toBe(409);
    expect(taken.body.message).toBe('a sink named taken already exists');
    const redeliver = await t.http.post(`/webhooks/${receiverless.id}/redeliver`).send({});
    expect(redeliver.status).toBe(400);
    expect(redeliver.body.message).toBe('give exactly one of notificationId, deadLetters or from');
    const ahead = await t.http.post(`/webhooks/${receiverless.id}/redeliver`).send({ notificationId: String(BigInt(receiverless.position) + 1000n) });
    expect(ahead.status).toBe(400);
    expect(ahead.body.message).toMatch(/is after the sink's position \d+: it is yet to be delivered, in order/);
    // A filter field is replaced by a list, removed by null.
    expect((await t.http.patch(`/webhooks/${receiverless.id}`).send({ events: ['invoices.*'] }).expect(200)).body.events).toEqual(['invoices.*']);
    expect((await t.http.patch(`/webhooks/${receiverless.id}`).send({ events: null }).expect(200)).body.events).toBeNull();
    expect((await t.http.patch(`/webhooks/${receiverless.id}`).send({ tables: [] })).status).toBe(400);
    // /sinks is every sink, webhooks included; /webhooks only webhooks.
    const asSink = await t.http.get(`/sinks/${receiverless.id}`).expect(200);
    expect(asSink.body).toMatchObject({ kind: 'webhook', settings: { url: 'http://127.0.0.1:9/x' } });
    const moved = await t.http.patch(`/sinks/${receiverless.id}`).send({ webhook: { url: 'http://127.0.0.1:9/z' } }).expect(200);
    expect(moved.body.settings).toEqual({ url: 'http://127.0.0.1:9/z' });
    expect(JSON.stringify(moved.body)).not.toContain('whsec_');
    const wrongKind = await t.http.patch(`/sinks/${receiverless.id}`).send({ rabbitmq: { exchange: 'x' } });
    expect(wrongKind.status).toBe(400);
    expect(wrongKind.body.message).toBe('rabbitmq settings do not apply to this sink, of kind webhook: give them as webhook');
    expect((await t.http.patch(`/sinks/${receiverless.id}`).send({ webhook: { url: null } })).body.message).toMatch(/^webhook.url must be an http/);
    const broker = await t.http.post('/sinks').send({ kind: 'nats', nats: { servers: ['nats://127.0.0.1:1'], token: 't0ken-never-shown' } }).expect(201);
    expect((await t.http.get(`/webhooks/${broker.body.id}`)).status).toBe(404);
    const natsChanged = await t.http.patch(`/sinks/${broker.body.id}`).send({ nats: { subjectPrefix: 'moved', user: 'rowcast', pass: 'p4ss-never-shown' } }).expect(200);
    expect(natsChanged.body.settings).toEqual({ servers: ['nats://127.0.0.1:1'], subjectPrefix: 'moved', stream: 'ROWCAST', subjectVocabulary: 'events', user: 'rowcast' });
    expect(JSON.stringify(natsChanged.body)).not.toMatch(/never-shown/);
    const badServer = await t.http.patch(`/sinks/${broker.body.id}`).send({ nats: { servers: ['nats://me:secret@127.0.0.1:1'] } });
    expect(badServer.status).toBe(400);
    expect(badServer.body.message).toMatch(/^nats.servers must not hold credentials/);
    expect((await t.http.patch(`/sinks/${broker.body.id}`).send({ webhook: { url: 'https://example.com/' } })).body.message).toBe(
      'webhook settings do not apply to this sink, of kind nats: give them as nats',
    );
    await t.http.delete(`/sinks/${broker.body.id}`).expect(204);
    await t.http.delete(`/webhooks/${receiverless.id}`).expect(204);
  });
});

describe('webhooks on two instances', () => {
  let db: TestDatabase;
  let first: TestApp;
  let second: TestApp;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    db = await createTestDatabase();
    first = await createTestApp({ db, env: FAST_RETRIES });
    second = await createTestApp({ db, env: FAST_RETRIES });
    await receiver.accept();
  });
  afterAll(async () => {
    await receiver.close();
    await second.close();
    await first.close().catch(() => undefined);
    await db.drop();
  });

  it('delivers each notification once, and the other instance takes over when the first stops', async () => {
    const webhook = (await first.http.post('/webhooks').send({ name: 'shared', url: receiver.url, tables: ['invoices'] }).expect(201))
      .body as CreatedWebhook;
    const insert = (from: number, to: number) =>
      db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'TWO-' || g FROM generate_series($1::int, $2::int) g`, [from, to]);
    for (let i = 0; i < 10; i++) await insert(i * 50 + 1, i * 50 + 50);
    await waitFor(() => receiver.delivered.length >= 500, { timeout: 20_000, what: '500 delivered' });
    expect(new Set(receiver.requests.map((request) => request.id)).size).toBe(receiver.requests.length);

    await first.close();
    for (let i = 10; i < 20; i++) await insert(i * 50 + 1, i * 50 + 50);
    const expected = await waitFor(
      async () => {
        const ids = await expectedIds(db, webhook.position, `n.table_name = 'invoices'`);
        return ids.length === 1_000 ? ids : undefined;
      },
      { what: 'the second instance to drain the rest' },
    );
    await waitFor(() => receiver.delivered.length >= 1_000, { timeout: 20_000, what: 'the rest delivered by the second instance' });
    expect(receiver.delivered).toEqual(expected);
    expectInOrderOnceAccepted(receiver.requests);
  }, 60_000);
});

describe('webhooks to private addresses', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('refuses loopback, private and link-local targets unless WEBHOOK_ALLOW_PRIVATE is set', async () => {
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://localhost/x',
      'http://10.1.2.3/x',
      'http://169.254.169.254/latest',
      'http://[::1]/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://[64:ff9b::a00:1]/x',
      'http://2130706433/x', // 127.0.0.1 as one number: URL parsing makes it 127.0.0.1
    ]) {
      const response = await t.http.post('/webhooks').send({ url });
      expect(response.status, url).toBe(400);
      expect(response.body.message, url).toMatch(/^url refused: .*(private, loopback or link-local).*WEBHOOK_ALLOW_PRIVATE=true/);
    }
    expect((await t.http.get('/webhooks')).body).toEqual([]);
  });
});

describe('webhooks with retries hours apart', () => {
  let t: TestApp;
  const failing = new WebhookReceiver();
  const fixed = new WebhookReceiver();
  // Its own receiver: the first test's webhook still delivers `invoices` to `fixed`.
  const late = new WebhookReceiver();
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '1h', SINK_LEASE_MS: '1000' } });
    await failing.accept();
    await fixed.accept();
    await late.accept();
    failing.answer = () => 'fail';
  });
  afterAll(async () => {
    await failing.close();
    await fixed.close();
    await late.close();
    await t.close();
  });

  it('acts on a new url at once, not after the hour the retry was due in', async () => {
    const webhook = (await t.http.post('/webhooks').send({ name: 'moves', url: failing.url, tables: ['invoices'] }).expect(201)).body as CreatedWebhook;
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('MOVE-1'), ('MOVE-2')`);
    await waitFor(async () => (await t.http.get(`/webhooks/${webhook.id}`)).body.state === 'failing', { what: 'the first attempt failed' });
    expect(failing.requests).toHaveLength(1);

    await t.http.patch(`/webhooks/${webhook.id}`).send({ url: fixed.url }).expect(200);
    await waitFor(() => fixed.delivered.length >= 2, { what: 'both delivered to the new url' });
    const { rows } = await t.db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.id > $1 AND n.table_name = 'invoices' ORDER BY n.id`, [webhook.position]);
    expect(fixed.delivered).toEqual(rows.map((row) => row.id));
    expect(failing.requests).toHaveLength(1);
  });

  it('says which notifications retention deleted before a paused sink delivered them, and goes on after them', async () => {
    const webhook = (await t.http.post('/webhooks').send({ name: 'late', url: late.url, tables: ['invoices'] }).expect(201)).body as CreatedWebhook;
    await t.http.patch(`/webhooks/${webhook.id}`).send({ paused: true }).expect(200);
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'LATE-' || g FROM generate_series(1, 6) g`);
    const ids = await waitFor(async () => {
      const { rows } = await t.db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.id > $1 AND n.table_name = 'invoices' ORDER BY n.id`, [webhook.position]);
      return rows.length === 6 ? rows.map((row) => row.id as string) : undefined;
    });
    // Retention, as far as the sink can tell, deleted the first three.
    await t.db.sql.query(`UPDATE notification_retention SET purged_through = $1 WHERE id = 1`, [ids[2]]);

    await t.http.post(`/webhooks/${webhook.id}/resume`).expect(200);
    await waitFor(async () => (await t.http.get(`/webhooks/${webhook.id}`)).body.position === ids[5], { what: 'the sink past the last of them' });
    expect(late.delivered).toEqual(ids.slice(3));
    const state = (await t.http.get(`/webhooks/${webhook.id}`)).body as { lastError: string };
    expect(state.lastError).toBe(`notifications ${BigInt(webhook.position) + 1n}–${ids[2]} were deleted by retention (RETENTION_DAYS) before this sink delivered them`);
  });
});
