import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';

/** How /sinks and /webhooks answer, as a client written from the OpenAPI document sees it (no broker needed). */
describe('the sinks API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const rabbitmq = { url: 'amqp://guest:guest@127.0.0.1:1' };
  /** Every settings field of every kind, as it sits in a /sinks body. */
  const FIELDS = {
    webhook: ['url'],
    rabbitmq: ['url', 'exchange'],
    nats: ['servers', 'subjectPrefix', 'subjectVocabulary', 'stream', 'user', 'pass', 'token'],
  } as const;
  const VALID = { webhook: { url: 'http://127.0.0.1:9/x' }, rabbitmq, nats: { servers: ['nats://127.0.0.1:1'] } };

  it('names a bad settings field once, with its kind as the one prefix, on POST and PATCH /sinks and on /webhooks', async () => {
    for (const [kind, fields] of Object.entries(FIELDS) as [keyof typeof FIELDS, readonly string[]][]) {
      const sink = (await t.http.post('/sinks').send({ kind, [kind]: VALID[kind] }).expect(201)).body as { id: string };
      for (const field of fields) {
        for (const value of [5, ['x'], { x: 1 }]) {
          const settings = { ...VALID[kind], [field]: value };
          const created = await t.http.post('/sinks').send({ kind, [kind]: settings });
          const changed = await t.http.patch(`/sinks/${sink.id}`).send({ [kind]: { [field]: value } });
          for (const [what, response] of [['POST', created], ['PATCH', changed]] as const) {
            const context = `${what} ${kind}.${field} = ${JSON.stringify(value)}: ${JSON.stringify(response.body)}`;
            expect(response.status, context).toBe(400);
            expect(response.body.message, context).toMatch(new RegExp(`^${kind}\\.${field} must `));
            expect(response.body.message, context).not.toContain(`${kind}.${kind}.`);
          }
        }
      }
      await t.http.delete(`/sinks/${sink.id}`).expect(204);
    }
    // The alias takes a webhook's settings at the top of the body: no prefix at all.
    const webhook = (await t.http.post('/webhooks').send({ url: 'http://127.0.0.1:9/x' }).expect(201)).body as { id: string };
    expect((await t.http.post('/webhooks').send({ url: 5 }).expect(400)).body.message).toBe('url must be an http:// or https:// URL');
    expect((await t.http.patch(`/webhooks/${webhook.id}`).send({ url: 'ftp://x' }).expect(400)).body.message).toBe('url must be an http:// or https:// URL');
    await t.http.delete(`/webhooks/${webhook.id}`).expect(204);
  });

  it('says what the smallest settings of a kind are when they are missing, without asking for what has a default', async () => {
    const missing = await t.http.post('/sinks').send({ kind: 'rabbitmq' }).expect(400);
    expect(missing.body.message).toBe(
      'rabbitmq must be an object of rabbitmq settings, at least {"url":"amqp://user:password@127.0.0.1:5672"} (required for kind rabbitmq)',
    );
    expect((await t.http.post('/sinks').send({ kind: 'nats', nats: 'x' }).expect(400)).body.message).toMatch(/^nats must be an object of nats settings, at least \{"servers":/);
    // exchange defaults to rowcast.
    const created = await t.http.post('/sinks').send({ kind: 'rabbitmq', rabbitmq }).expect(201);
    expect(created.body.settings.exchange).toBe('rowcast');
    await t.http.delete(`/sinks/${created.body.id}`).expect(204);
  });

  it('shows onExhausted for webhooks only, and refuses it for brokers, whose retries never end', async () => {
    const webhook = await t.http.post('/sinks').send({ kind: 'webhook', webhook: VALID.webhook, onExhausted: 'pause' }).expect(201);
    expect(webhook.body.onExhausted).toBe('pause');
    const broker = await t.http.post('/sinks').send({ kind: 'rabbitmq', rabbitmq }).expect(201);
    expect(broker.body.onExhausted).toBeNull();
    expect((await t.http.get(`/sinks/${broker.body.id}`).expect(200)).body.onExhausted).toBeNull();
    const listed = (await t.http.get('/sinks').expect(200)).body as { id: string; onExhausted: string | null }[];
    expect(listed.find((sink) => sink.id === broker.body.id)?.onExhausted).toBeNull();
    expect(listed.find((sink) => sink.id === webhook.body.id)?.onExhausted).toBe('pause');

    for (const kind of ['rabbitmq', 'nats'] as const) {
      const refused = await t.http.post('/sinks').send({ kind, [kind]: VALID[kind], onExhausted: 'dead-letter' }).expect(400);
      expect(refused.body.message).toBe(`onExhausted does not apply to ${kind} sinks: they retry a notification until it is delivered, and never give up on it`);
    }
    const patched = await t.http.patch(`/sinks/${broker.body.id}`).send({ onExhausted: 'pause', name: 'not-applied' }).expect(400);
    expect(patched.body.message).toMatch(/^onExhausted does not apply to rabbitmq sinks/);
    expect((await t.http.get(`/sinks/${broker.body.id}`)).body.name).not.toBe('not-applied');
    await t.http.delete(`/sinks/${broker.body.id}`).expect(204);
    await t.http.delete(`/sinks/${webhook.body.id}`).expect(204);
  });

  it('stores where: {} as no filter, on creation and on a change', async () => {
    const created = await t.http.post('/sinks').send({ kind: 'rabbitmq', rabbitmq, where: {} }).expect(201);
    expect(created.body.where).toBeNull();
    const stored = async () => (await t.db.sql.query(`SELECT filter FROM sinks WHERE id = $1`, [created.body.id])).rows[0].filter;
    expect(await stored()).toEqual({});
    await t.http.patch(`/sinks/${created.body.id}`).send({ where: { invoice_id: 'x' } }).expect(200);
    expect(await stored()).toEqual({ where: { invoice_id: 'x' } });
    expect((await t.http.patch(`/sinks/${created.body.id}`).send({ where: {} }).expect(200)).body.where).toBeNull();
    expect(await stored()).toEqual({});
    await t.http.delete(`/sinks/${created.body.id}`).expect(204);
  });

  it('shows a new sink with no error, current or past, and nothing delivered yet', async () => {
    const created = await t.http.post('/sinks').send({ kind: 'rabbitmq', rabbitmq }).expect(201);
    expect(created.body).toMatchObject({ state: 'active', lastError: null, lastErrorAt: null, recoveredAt: null, lastDeliveredId: null, lastDeliveredAt: null });
    await t.http.delete(`/sinks/${created.body.id}`).expect(204);
  });
});
