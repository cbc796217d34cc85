import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { parsePrometheus } from '../support/metrics.js';
import { connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/** Retries every second, twenty times: a stopped receiver is retried, never given up on, while a test watches. */
const ENV = {
  WEBHOOK_ALLOW_PRIVATE: 'true',
  WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 20 }, () => '1s').join(','),
  // Longer than the slow receiver takes to answer (300 ms).
  WEBHOOK_TIMEOUT_MS: '2000',
  SINK_LEASE_MS: '1000',
};

/** The one sample of `name` whose labels include `labels` (in any order); undefined when there is none. */
function sample(samples: Map<string, number>, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  for (const [key, value] of samples) {
    const [, metric, inner = ''] = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    if (metric !== name) continue;
    const have = inner.split(/,(?=[a-zA-Z_]+=")/);
    if (wanted.every((pair) => have.includes(pair))) return value;
  }
  return undefined;
}

describe('lag by position and latency from commit, per destination', () => {
  let t: TestApp;
  let client: TestClient;
  const receivers: WebhookReceiver[] = [];
  const scrape = async () => parsePrometheus((await t.http.get('/metrics').expect(200)).text);
  const insertInvoices = (prefix: string, count: number) =>
    t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT $1 || '-' || i FROM generate_series(1, $2) i`, [prefix, count]);
  const receiver = async () => {
    const created = new WebhookReceiver();
    await created.accept();
    receivers.push(created);
    return created;
  };
  const webhook = async (name: string, url: string) => {
    const response = await t.http.post('/webhooks').send({ name, url, events: ['invoices.created'] });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
  };
  const lagOf = async (kind: string, destination: string) => {
    const samples = await scrape();
    return {
      events: sample(samples, 'rowcast_destination_lag_events', { kind, destination }),
      seconds: sample(samples, 'rowcast_destination_lag_seconds', { kind, destination }),
    };
  };

  beforeAll(async () => {
    t = await createTestApp({ env: ENV, listen: true });
    client = await connectClient(t.url);
    expect((await client.subscribe({ tables: ['invoices'] })).ok).toBe(true);
  });
  afterAll(async () => {
    client?.close();
    await Promise.all(receivers.map((each) => each.close()));
    await t?.close();
  });

  it('reads 0 while caught up and idle, and grows in events and seconds behind a receiver that stopped answering', async () => {
    const hooks = await receiver();
    await webhook('stalled', hooks.url);
    expect((await t.http.post('/consumers').send({ name: 'unread', tables: ['invoices'] })).status).toBe(201);
    await insertInvoices('IDLE', 2);
    await waitFor(() => hooks.delivered.length === 2, { what: 'both delivered' });
    await client.waitFor(2);

    // Idle: nothing committed for two seconds. A lag measured as "time since the last event" would now read 2 s.
    await waitFor(async () => (await t.db.sql.query(`SELECT clock_timestamp() - max(changed_at) > interval '2 s' AS idle FROM capture.changes`)).rows[0].idle, {
      what: 'two idle seconds',
    });
    const idle = await waitFor(
      async () => {
        const lag = await lagOf('webhook', 'stalled');
        return lag.events === 0 ? lag : undefined;
      },
      { what: 'the webhook caught up' },
    );
    expect(idle.seconds).toBe(0);
    expect(await lagOf('websocket', 'websocket')).toEqual({ events: 0, seconds: 0 });
    const samples = await scrape();
    expect(sample(samples, 'rowcast_sink_lag_notifications', { sink: 'stalled', kind: 'webhook' })).toBe(0);
    expect(sample(samples, 'rowcast_sink_lag_seconds', { sink: 'stalled', kind: 'webhook' })).toBe(0);
    expect(sample(samples, 'rowcast_sink_state', { sink: 'stalled', kind: 'webhook', state: 'active' })).toBe(1);
    // A group nobody receives from is behind by both, in the same family (read every 5 s).
    const group = await waitFor(
      async () => {
        const lag = await lagOf('consumer', 'unread');
        return lag.events === 2 && lag.seconds! >= 2 ? lag : undefined;
      },
      { timeout: 15_000, what: 'the unread group 2 behind, for at least 2 s' },
    );
    expect(sample(await scrape(), 'rowcast_consumer_lag_notifications', { group: 'unread' })).toBe(2);
    expect(group.seconds).toBeLessThan(60);

    // The receiver stops answering (each request times out): 3 new notifications wait for it.
    hooks.answer = () => 'hang';
    await insertInvoices('STALLED', 3);
    const behind = await waitFor(
      async () => {
        const lag = await lagOf('webhook', 'stalled');
        return lag.events === 3 && lag.seconds! >= 1 ? lag : undefined;
      },
      { what: 'the webhook 3 behind, for a second' },
    );
    const later = await waitFor(
      async () => {
        const lag = await lagOf('webhook', 'stalled');
        return lag.seconds! >= behind.seconds! + 1 ? lag : undefined;
      },
      { what: 'its lag in seconds growing' },
    );
    expect(later.events).toBe(3);
    const stalled = await scrape();
    expect(sample(stalled, 'rowcast_sink_lag_notifications', { sink: 'stalled', kind: 'webhook' })).toBe(3);
    expect(sample(stalled, 'rowcast_sink_lag_seconds', { sink: 'stalled', kind: 'webhook' })).toBeGreaterThanOrEqual(later.seconds!);
    // Failing once its first request timed out (2 s).
    await waitFor(async () => sample(await scrape(), 'rowcast_sink_state', { sink: 'stalled', kind: 'webhook', state: 'failing' }) === 1, {
      what: 'the sink failing',
    });
    // The WebSocket clients are not held back by it.
    await client.waitFor(5);
    expect(await waitFor(async () => ((await lagOf('websocket', 'websocket')).events === 0 ? lagOf('websocket', 'websocket') : undefined))).toEqual({
      events: 0,
      seconds: 0,
    });

    // It answers again: caught up, both back to 0.
    hooks.answer = () => 'ok';
    await waitFor(async () => JSON.stringify(await lagOf('webhook', 'stalled')) === JSON.stringify({ events: 0, seconds: 0 }), {
      timeout: 15_000,
      what: 'the webhook caught up again',
    });
  }, 60_000);

  it('times each step from commit: into the log, pushed to sockets, confirmed by each receiver or worker (a slow one slower)', async () => {
    const counts = async () => {
      const samples = await scrape();
      return {
        log: sample(samples, 'rowcast_commit_to_log_seconds_count', {}) ?? NaN,
        push: sample(samples, 'rowcast_commit_to_push_seconds_count', {}) ?? NaN,
      };
    };
    const before = await counts();
    const fast = await receiver();
    const slow = await receiver();
    slow.answerAfterMs = 300;
    await webhook('fast', fast.url);
    await webhook('slow', slow.url);
    expect((await t.http.post('/consumers').send({ name: 'timed', tables: ['invoices'] })).status).toBe(201);
    await insertInvoices('TIMED', 2);
    await waitFor(() => fast.delivered.length === 2 && slow.delivered.length === 2, { what: 'both receivers confirmed both' });
    // A worker takes both, holds them 300 ms, and acknowledges them.
    const { body: received } = await t.http.post('/consumers/timed/receive').send({ max: 10, waitMs: 5000 }).expect(200);
    const leaseIds = (received.messages as { leaseId: string }[]).map((message) => message.leaseId);
    expect(leaseIds).toHaveLength(2);
    const heldUntil = Date.now() + 300;
    await waitFor(() => Date.now() >= heldUntil, { what: 'the worker done with its messages' });
    expect((await t.http.post('/consumers/timed/ack').send({ leaseIds }).expect(200)).body.done).toHaveLength(2);

    const confirmed = (destination: string, le?: string, kind = 'webhook') =>
      scrape().then((samples) =>
        sample(samples, `rowcast_commit_to_confirm_seconds_${le ? 'bucket' : 'count'}`, { kind, destination, ...(le && { le }) }),
      );
    // The runner observes just after the receiver's answer.
    await waitFor(async () => (await confirmed('slow')) === 2 && (await confirmed('fast')) === 2, { what: 'two confirmations timed per webhook' });
    // One answer 300 ms after its request: neither of the slow one's took under a quarter second; the fast one's did.
    expect(await confirmed('slow', '0.25')).toBe(0);
    expect(await confirmed('slow', '+Inf')).toBe(2);
    expect(await confirmed('fast', '0.25')).toBe(2);
    // Acknowledged to the group after the worker's 300 ms: both, and neither within a quarter second.
    expect(await confirmed('timed', undefined, 'consumer')).toBe(2);
    expect(await confirmed('timed', '0.25', 'consumer')).toBe(0);
    const samples = await scrape();
    expect(sample(samples, 'rowcast_commit_to_confirm_seconds_sum', { kind: 'webhook', destination: 'slow' })).toBeGreaterThanOrEqual(0.6);

    const after = await counts();
    expect(after.log - before.log).toBeGreaterThanOrEqual(2);
    expect(after.push - before.push).toBe(2); // once per notification pushed live
    // In the log within seconds of commit.
    expect(sample(samples, 'rowcast_commit_to_log_seconds_bucket', { le: '5' })).toBe(after.log);
  }, 60_000);

  it('counts the capture backlog and its age while no instance drains, and 0 once drained', async () => {
    // Another session holds the drain lock (LogDrainer's DRAIN_LOCK): the app stands by.
    const db = await createTestDatabase();
    const holder = await db.sql.connect();
    await holder.query('SELECT pg_advisory_lock(7160902)');
    const standby = await createTestApp({ db });
    try {
      const metric = async (name: string) => parsePrometheus((await standby.http.get('/metrics').expect(200)).text).get(name);
      expect(await metric('rowcast_listener_draining')).toBe(0);
      await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WAITING-1'), ('WAITING-2'), ('WAITING-3')`);
      await waitFor(async () => (await metric('rowcast_journal_backlog')) === 3 && (await metric('rowcast_drain_lag_seconds'))! >= 1, {
        what: 'three rows waiting for a second',
      });
      const age = (await metric('rowcast_drain_lag_seconds'))!;
      await waitFor(async () => (await metric('rowcast_drain_lag_seconds'))! >= age + 1, { what: 'their age growing' });
      expect(await metric('rowcast_journal_backlog')).toBe(3);

      await holder.query('SELECT pg_advisory_unlock(7160902)');
      await waitFor(async () => (await metric('rowcast_listener_draining')) === 1 && (await metric('rowcast_journal_backlog')) === 0, {
        what: 'the app draining, the backlog gone',
      });
      expect(await metric('rowcast_drain_lag_seconds')).toBe(0);
    } finally {
      holder.release();
      await standby.close();
      await db.drop();
    }
  }, 60_000);
});
