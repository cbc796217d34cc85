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

  it('refuses an id that is no notification id, and names one that is not in the log', async () => {
    await t.http.get('/notifications/abc/deliveries').expect(400, { statusCode: 400, error: 'Bad Request', message: 'id must be a notification id (digits)' });
    await t.http.get('/notifications/999999999/deliveries').expect(404, { statusCode: 404, error: 'Not Found', message: 'notification 999999999 not found' });
  });
});
