import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

interface Trace {
  id: string;
  event: string;
  destinations: {
    kind: string;
    name: string;
    status: string;
    reason?: string;
    confirmedAt: string | null;
    deliveries: number;
    attempts: { delivered: boolean; statusCode?: number }[];
    lastError?: string;
  }[];
}

/**
 * GET /notifications/:id/deliveries: what each sink and consumer group did with one notification,
 * on the whole app with real webhook receivers and the consuming API.
 */
describe('a trace per notification', () => {
  let t: TestApp;
  const receivers: WebhookReceiver[] = [];
  beforeAll(async () => {
    t = await createTestApp({
      listen: true,
      env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '10ms,20ms', WEBHOOK_TIMEOUT_MS: '300' },
    });
  });
  afterAll(async () => {
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t.close();
  });

  async function webhook(name: string, body: object, answer: WebhookReceiver['answer'] = () => 'ok'): Promise<{ id: string; receiver: WebhookReceiver }> {
    const receiver = new WebhookReceiver();
    receiver.answer = answer;
    await receiver.accept();
    receivers.push(receiver);
    const response = await t.http.post('/webhooks').send({ name, url: receiver.url, ...body });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return { id: response.body.id, receiver };
  }

  const trace = async (id: string): Promise<Trace> => (await t.http.get(`/notifications/${id}/deliveries`).expect(200)).body;
  const of = (traced: Trace, name: string) => traced.destinations.find((destination) => destination.name === name)!;

  it('says per destination: delivered after retries, dead-lettered, skipped by its filter, not reached, leased, acknowledged', async () => {
    let calls = 0;
    const retried = await webhook('retried', { tables: ['invoices'] }, () => (calls++ < 2 ? 'fail' : 'ok'));
    const dead = await webhook('dead', { tables: ['invoices'] }, () => 'fail');
    await webhook('other-table', { tables: ['invoice_items'] });
    const held = await webhook('held', { tables: ['invoices'] });
    await t.http.patch(`/webhooks/${held.id}`).send({ paused: true }).expect(200);
    expect((await t.http.post('/consumers').send({ name: 'workers', tables: ['invoices'] })).status).toBe(201);
    expect((await t.http.post('/consumers').send({ name: 'later', tables: ['invoices'] })).status).toBe(201);

    const { body: invoice } = await t.http.post('/invoices').send({ invoiceNo: 'TRACE-1' }).expect(201);
    const notification = await waitFor(
      async () => (await t.http.get('/notifications').query({ event: 'invoices.created' })).body.data.find((n: { payload: { pk: { id: string } } }) => n.payload.pk.id === invoice.id),
      { what: 'the invoice in the log' },
    );
    await waitFor(async () => of(await trace(notification.id), 'retried').status === 'delivered' && of(await trace(notification.id), 'dead').status === 'dead_letter', {
      what: 'the webhooks to be done with it',
    });
    const { body: received } = await t.http.post('/consumers/workers/receive').send({ max: 10, waitMs: 5000 }).expect(200);
    const message = received.messages.find((m: { notification: { id: string } }) => m.notification.id === notification.id);
    expect(message).toBeDefined();

    let traced = await trace(notification.id);
    expect(traced).toMatchObject({ id: notification.id, event: 'invoices.created' });
    expect(of(traced, 'retried')).toMatchObject({ kind: 'webhook', status: 'delivered', deliveries: 3, confirmedAt: expect.any(String) });
    expect(of(traced, 'retried').attempts.map((a) => [a.delivered, a.statusCode])).toEqual([
      [false, 500],
      [false, 500],
      [true, 204],
    ]);
    expect(of(traced, 'dead')).toMatchObject({ status: 'dead_letter', deliveries: 3, confirmedAt: null, lastError: expect.stringContaining('500') });
    expect(of(traced, 'other-table')).toMatchObject({ status: 'skipped', reason: 'its filter leaves it out', deliveries: 0 });
    expect(of(traced, 'held')).toMatchObject({ status: 'pending', reason: expect.stringMatching(/^not reached yet: the sink is paused at \d+$/) });
    expect(of(traced, 'workers')).toMatchObject({ kind: 'consumer', status: 'in_flight', deliveries: 1, reason: expect.stringMatching(/^leased until /) });
    expect(of(traced, 'later')).toMatchObject({ kind: 'consumer', status: 'pending', reason: expect.stringMatching(/^not reached yet: the group is at \d+$/) });

    await t.http.post('/consumers/workers/ack').send({ leaseIds: [message.leaseId] }).expect(200);
    traced = await trace(notification.id);
    expect(of(traced, 'workers')).toMatchObject({ status: 'acknowledged' });
    expect(of(traced, 'workers').reason).toBeUndefined();
  });

  it('redelivers a range narrowed by a filter, and answers how many a dry run would send without sending them', async () => {
    const replay = await webhook('replay', { events: ['invoices.created'] });
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) {
      const { body } = await t.http.post('/invoices').send({ invoiceNo: `REPLAY-${i}` }).expect(201);
      ids.push(body.id);
    }
    await waitFor(() => replay.receiver.delivered.length === 6, { what: 'six invoices delivered' });
    const sent = replay.receiver.requests.map((r) => JSON.parse(r.body) as { id: string; payload: { new: { invoice_no: string } } });
    const [first, last] = [sent[0].id, sent[5].id];
    const from = String(BigInt(first) - 1n);
    // A range stops at the sink's position: wait for it to pass the last one.
    await waitFor(async () => BigInt((await t.http.get(`/webhooks/${replay.id}`).expect(200)).body.position) >= BigInt(last), { what: 'the position past the sixth' });
    const redeliver = (body: object) => t.http.post(`/webhooks/${replay.id}/redeliver`).send(body);

    expect((await redeliver({ from, to: last, dryRun: true }).expect(202)).body).toMatchObject({ queued: 6, first, last, dryRun: true });
    expect((await redeliver({ from, to: last, where: { invoice_no: 'REPLAY-2' }, dryRun: true }).expect(202)).body).toMatchObject({ queued: 1, first: sent[1].id, last: sent[1].id });
    expect((await redeliver({ from, events: ['invoices.updated'], dryRun: true }).expect(202)).body).toMatchObject({ queued: 0, first: null, last: null });
    // A rewind's dry run: what the sink's filter takes after from, and the position it would move to.
    expect((await redeliver({ from, dryRun: true }).expect(202)).body).toMatchObject({ queued: 6, position: from, dryRun: true });
    expect((await redeliver({ deadLetters: true, dryRun: true }).expect(202)).body).toMatchObject({ queued: 0, dryRun: true });
    // Nothing was sent: the next invoice is the seventh request.
    await t.http.post('/invoices').send({ invoiceNo: 'REPLAY-7' }).expect(201);
    await waitFor(() => replay.receiver.requests.length >= 7, { what: 'the seventh invoice' });
    await waitFor(async () => BigInt((await t.http.get(`/webhooks/${replay.id}`).expect(200)).body.position) > BigInt(last), { what: 'the position past the seventh' });
    expect(replay.receiver.requests.map((r) => (JSON.parse(r.body) as { payload: { new: { invoice_no: string } } }).payload.new.invoice_no)).toEqual(
      Array.from({ length: 7 }, (_, i) => `REPLAY-${i + 1}`),
    );

    // The range for real: only REPLAY-3 again.
    expect((await redeliver({ from, to: last, where: { invoice_no: 'REPLAY-3' } }).expect(202)).body).toMatchObject({ queued: 1, first: sent[2].id });
    await waitFor(() => replay.receiver.requests.length >= 8, { what: 'the redelivery' });
    expect(JSON.parse(replay.receiver.requests[7].body).id).toBe(sent[2].id);

    await redeliver({ to: last }).expect(400, { statusCode: 400, error: 'Bad Request', message: 'to, events, tables and where narrow a range: give them with from' });
    expect((await redeliver({ from: last, to: first }).expect(400)).body.message).toMatch(/^the range \(\d+, \d+\] is empty/);
    expect((await redeliver({ from, dryRun: 'yes' }).expect(400)).body.message).toBe('dryRun must be true or false');
  });

  it('refuses an id that is no notification id, and names one that is not in the log', async () => {
    await t.http.get('/notifications/abc/deliveries').expect(400, { statusCode: 400, error: 'Bad Request', message: 'id must be a notification id (digits)' });
    await t.http.get('/notifications/999999999/deliveries').expect(404, { statusCode: 404, error: 'Not Found', message: 'notification 999999999 not found' });
  });
});
