import { Logger } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { AsyncMessage, Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitMqTransport, redactUrl } from '../../src/sinks/drivers/rabbitmq.transport.js';
import { SendResult, SinkMessage } from '../../src/sinks/sink-transport.js';
import { createTestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUN = `rowcast-test-${randomBytes(4).toString('hex')}`;
const EVENTS = ['invoices.created', 'invoices.updated', 'sales.orders.deleted'] as const;
const OPS = ['INSERT', 'UPDATE', 'DELETE'] as const;

/** Ids 1..count; bodies are JSON as REST writes it (compact), with some non-ASCII text. */
function sinkMessages(count: number): SinkMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const id = String(i + 1);
    const event = EVENTS[i % EVENTS.length];
    const table = event.startsWith('sales.') ? 'sales.orders' : 'invoices';
    return { id, event, table, op: OPS[i % OPS.length], body: JSON.stringify({ id, event, data: { customer: `Zürich € ${i}` } }) };
  });
}

/** Keeps what would be logged, to check it and to keep expected reconnect warnings out of the output. */
class CapturingLogger extends Logger {
  readonly lines: string[] = [];
  override log(message: unknown): void {
    this.lines.push(String(message));
  }
  override warn(message: unknown): void {
    this.lines.push(String(message));
  }
  override error(message: unknown): void {
    this.lines.push(String(message));
  }
}

async function rabbitmqctl(command: 'stop_app' | 'start_app'): Promise<void> {
  await promisify(execFile)('rabbitmqctl', [command], { timeout: 90_000 });
}

describe('RabbitMqTransport', () => {
  let admin: Connection;
  const exchanges: string[] = [];
  const queues: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  /** Set while stop_app may have left the broker down; afterAll starts it again. */
  let restarting: Promise<void> | undefined;
  let brokerDown = false;

  beforeAll(() => {
    admin = new Connection({ url: RABBITMQ_URL, retryLow: 100, retryHigh: 1_000 });
    admin.on('error', () => {}); // the restart test drops it; it reconnects
  });

  afterAll(async () => {
    await restarting?.catch(() => {});
    if (brokerDown) await rabbitmqctl('start_app');
    for (const cleanup of cleanups) await cleanup();
    for (const queue of queues) await admin.queueDelete({ queue });
    for (const exchange of exchanges) await admin.exchangeDelete({ exchange });
    await admin.close();
  }, 120_000);

  /**
   * A durable queue bound to everything the exchange routes, consumed from now on (and again after
   * a reconnect). Resolves once the consumer is ready, so nothing published after is unroutable.
   */
  async function consume(name: string): Promise<{ exchange: string; received: AsyncMessage[] }> {
    const exchange = `${RUN}-${name}`;
    const queue = `${RUN}-${name}`;
    exchanges.push(exchange);
    queues.push(queue);
    const received: AsyncMessage[] = [];
    let ready = false;
    const consumer = admin.createConsumer(
      {
        queue,
        queueOptions: { durable: true },
        exchanges: [{ exchange, type: 'topic', durable: true }],
        queueBindings: [{ exchange, queue, routingKey: '#' }],
      },
      (message) => {
        received.push(message);
      },
    );
    consumer.on('error', () => {}); // acks lost in the restart; the broker redelivers
    consumer.on('ready', () => (ready = true));
    cleanups.push(() => consumer.close());
    await waitFor(() => ready, { what: `the consumer on ${queue}` });
    return { exchange, received };
  }

  it('confirms 1,000 messages, delivered in order as persistent JSON with their ids and routing keys', async () => {
    const { exchange, received } = await consume('confirms');
    const sut = new RabbitMqTransport({ url: RABBITMQ_URL, exchange }, new CapturingLogger());
    cleanups.push(() => sut.close());
    const messages = sinkMessages(1_000);

    await expect(sut.send(messages)).resolves.toEqual({ confirmed: 1_000 });

    await waitFor(() => received.length >= 1_000, { what: '1,000 deliveries' });
    expect(received).toHaveLength(1_000);
    received.forEach((delivery, i) => {
      const sent = messages[i];
      expect(delivery.messageId).toBe(sent.id);
      expect(delivery.routingKey).toBe(sent.event);
      expect(delivery.durable).toBe(true); // rabbitmq-client's name for delivery mode 2 (persistent)
      expect(delivery.contentType).toBe('application/json');
      expect(delivery.headers).toEqual({ 'rowcast-event': sent.event, 'rowcast-table': sent.table, 'rowcast-op': sent.op, 'rowcast-id': sent.id });
      // rabbitmq-client parses application/json bodies: a re-encoded body would come back a string,
      // and re-serialising what came gives back exactly the compact bytes that were sent.
      expect(JSON.stringify(delivery.body)).toBe(sent.body);
    });
  });

  it('confirms 2,000 messages across a broker restart, retrying from the first unconfirmed', async () => {
    const { exchange, received } = await consume('restart');
    const sut = new RabbitMqTransport({ url: RABBITMQ_URL, exchange, timeoutMs: 2_000 }, new CapturingLogger());
    cleanups.push(() => sut.close());
    const messages = sinkMessages(2_000);
    let confirmed = 0;
    let stopped = false;
    const errors: string[] = [];
    restarting = (async () => {
      await waitFor(() => confirmed >= 200, { what: '200 confirmed before the restart' });
      brokerDown = true;
      await rabbitmqctl('stop_app');
      stopped = true;
      // Up again only once a send has reported the outage, so that the retry path surely runs.
      await waitFor(() => errors.length > 0, { timeout: 30_000, what: 'a send to report the outage' });
      await rabbitmqctl('start_app');
      brokerDown = false;
    })();
    restarting.catch(() => {}); // awaited below and in afterAll

    while (confirmed < messages.length) {
      // The restart must land mid-stream: past half way, the stream slows down to one message a
      // send until the broker is down, and stops short of the end if it is not down by then.
      if (!stopped && confirmed >= 1_990) await waitFor(() => stopped, { timeout: 90_000, what: 'stop_app' });
      const result = await sut.send(messages.slice(confirmed, confirmed + (!stopped && confirmed >= 1_000 ? 1 : 50)));
      confirmed += result.confirmed;
      if (result.error !== undefined) errors.push(result.error);
    }
    await restarting;

    expect(errors.length).toBeGreaterThan(0);
    await waitFor(() => new Set(received.map((m) => m.messageId)).size >= 2_000, { timeout: 30_000, what: 'every id delivered' });
    // A Set keeps first occurrences in order: redeliveries and retried publishes drop out.
    const firstSeen = [...new Set(received.map((m) => m.messageId))];
    expect(firstSeen).toEqual(messages.map((m) => m.id));
  }, 120_000);

  it('publishes nothing from a message over the broker’s max_message_size (128 MB by default) on, and says it is too large', async () => {
    const { exchange, received } = await consume('max-size');
    const sut = new RabbitMqTransport({ url: RABBITMQ_URL, exchange }, new CapturingLogger());
    cleanups.push(() => sut.close());
    const [first, second, third] = sinkMessages(3);
    const big = { ...second, body: JSON.stringify({ text: 'x'.repeat(128 * 1024 * 1024) }) };
    const messages = [first, big, third];

    // As the engine does, again from the first one not confirmed: the broker's refusal closes the
    // channel, and may take the first one's confirm with it; the retry knows the limit.
    let from = 0;
    let result: SendResult = { confirmed: 0 };
    for (let sends = 0; sends < 3 && !result.tooLarge; sends++) {
      result = await sut.send(messages.slice(from));
      from += result.confirmed;
    }
    expect(from).toBe(1);
    expect(result).toMatchObject({ tooLarge: 'max_message_size', error: expect.stringMatching(/max size|max_message_size/) });
    // Known from then on: nothing is published from it on.
    expect(await sut.send([big, third])).toEqual({
      confirmed: 0,
      tooLarge: 'max_message_size',
      error: expect.stringMatching(/^message of \d+ bytes is larger than the broker's max_message_size \(\d+ bytes\)$/),
    });
    expect(await sut.send([third])).toEqual({ confirmed: 1 });
    await waitFor(() => received.some((message) => message.messageId === third.id), { what: 'the third delivered' });
    expect([...new Set(received.map((message) => message.messageId))]).toEqual([first.id, third.id]);
  }, 60_000);

  it('says at once that an unreachable broker refused the connection, without showing the password', async () => {
    const password = 's3cret-Pa55';
    const logger = new CapturingLogger();
    const sut = new RabbitMqTransport({ url: `amqp://rowcast:${password}@127.0.0.1:1`, exchange: `${RUN}-unreachable`, timeoutMs: 5_000 }, logger);
    try {
      for (let send = 0; send < 2; send++) {
        const started = performance.now();
        const result = await sut.send(sinkMessages(3));
        const elapsed = performance.now() - started;

        expect(result).toEqual({ confirmed: 0, error: 'cannot connect: connection refused' });
        expect(elapsed).toBeLessThan(2_500); // not the 5 s timeout
      }
      expect(logger.lines.join('\n')).toContain('amqp://rowcast:***@127.0.0.1:1');
      expect(logger.lines.join('\n')).not.toContain(password);
    } finally {
      await Promise.all([sut.close(), sut.close()]);
    }
    await expect(sut.send(sinkMessages(1))).resolves.toEqual({ confirmed: 0, error: 'transport is closed' });
  });

  it('says at once that the broker refused the login, in words without `undefined`', async () => {
    const sut = new RabbitMqTransport({ url: RABBITMQ_URL.replace(/:[^:@/]*@/, ':wrong-Pa55@'), exchange: `${RUN}-refused`, timeoutMs: 10_000 }, new CapturingLogger());
    try {
      for (let send = 0; send < 2; send++) {
        const started = performance.now();
        const result = await sut.send(sinkMessages(2));
        expect(performance.now() - started).toBeLessThan(5_000); // well before the 10 s timeout
        expect(result.confirmed).toBe(0);
        expect(result.error).toMatch(/^cannot connect: login refused \(ACCESS_REFUSED - Login was refused/);
        expect(result.error).not.toContain('undefined');
        expect(result.error).not.toContain('wrong-Pa55');
      }
    } finally {
      await sut.close();
    }
  });

  it('as a sink with a wrong password: failing, with the login refused as its lastError, right after its first attempt', async () => {
    const t = await createTestApp({ env: { SINK_LEASE_MS: '1000' } });
    try {
      const url = RABBITMQ_URL.replace(/:[^:@/]*@/, ':wrong-Pa55@');
      const created = await t.http.post('/sinks').send({ kind: 'rabbitmq', name: 'refused', rabbitmq: { url, exchange: `${RUN}-refused-sink` } }).expect(201);
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('REFUSED-1')`);
      // The transport's timeout is 10 s: a sink that says so in 5 s did not wait for it.
      const failing = await waitFor(
        async () => {
          const body = (await t.http.get(`/sinks/${created.body.id}`)).body as { state: string; lastError: string | null; lastErrorAt: string | null; recoveredAt: string | null };
          return body.state === 'failing' ? body : undefined;
        },
        { timeout: 5_000, what: 'the sink failing' },
      );
      expect(failing.lastError).toMatch(/^notification \d+: cannot connect: login refused \(ACCESS_REFUSED - Login was refused/);
      expect(failing.lastError).not.toContain('undefined');
      expect(failing.lastErrorAt).toBeTruthy();
      expect(failing.recoveredAt).toBeNull();
      expect(JSON.stringify(failing)).not.toContain('wrong-Pa55');
    } finally {
      await t.close();
    }
  }, 30_000);

  it('as a sink: delivers what its filter matches, in log order, with confirms, across a broker restart', async () => {
    const { exchange, received } = await consume('sink');
    const t = await createTestApp({ env: { SINK_LEASE_MS: '1000' } });
    try {
      const created = await t.http
        .post('/sinks')
        .send({ kind: 'rabbitmq', name: 'items', events: ['invoice_items.*'], rabbitmq: { url: RABBITMQ_URL, exchange } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body.settings).toEqual({ url: 'amqp://guest:***@127.0.0.1:5672', exchange });
      const sink = created.body as { id: string; position: string };
      const { rows: invoices } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('MQ-1'), ('MQ-2') RETURNING id`);
      const write = (from: number) =>
        Promise.all(
          invoices.map(async ({ id }) => {
            for (let i = from; i < from + 250; i++) {
              await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, $2)`, [id, i + 1]);
            }
          }),
        );
      await write(0);
      await waitFor(() => received.length >= 200, { timeout: 30_000, what: '200 messages' });
      brokerDown = true;
      await rabbitmqctl('stop_app');
      // Written while the broker is down: the sink has something to send into the outage.
      await write(250);
      await waitFor(async () => (await t.http.get(`/sinks/${sink.id}`)).body.state === 'failing', { timeout: 30_000, what: 'the sink failing' });
      await rabbitmqctl('start_app');
      brokerDown = false;

      const { rows } = await t.db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.id > $1 AND n.event LIKE 'invoice_items.%' ORDER BY n.id`, [
        sink.position,
      ]);
      expect(rows).toHaveLength(1_000);
      const firsts = () => [...new Set(received.map((message) => message.messageId))];
      await waitFor(() => firsts().length >= 1_000, { timeout: 60_000, what: 'all 1,000 at the queue' });
      expect(firsts()).toEqual(rows.map((row) => row.id));
      expect(received.every((message) => message.routingKey === 'invoice_items.created')).toBe(true);
      const state = await waitFor(async () => {
        const body = (await t.http.get(`/sinks/${sink.id}`)).body as { state: string; lastError: string; lastErrorAt: string; recoveredAt: string | null };
        return body.state === 'active' ? body : undefined;
      });
      // The outage, kept after recovery with its time, and said to be over: recovered after it.
      expect(state.lastError).toBeTruthy();
      expect(state.recoveredAt).toBeTruthy();
      expect(Date.parse(state.recoveredAt!)).toBeGreaterThanOrEqual(Date.parse(state.lastErrorAt));
      expect(JSON.stringify(state)).not.toContain('guest:guest');
    } finally {
      await t.close();
    }
  }, 120_000);

  it('redacts the password of a URL', () => {
    expect(redactUrl('amqp://rowcast:s3cret@broker:5672/vhost')).toBe('amqp://rowcast:***@broker:5672/vhost');
    expect(redactUrl('amqps://rowcast:p%40ss%2Fword@broker/')).toBe('amqps://rowcast:***@broker/');
    expect(redactUrl('amqp://broker:5672')).toBe('amqp://broker:5672');
    // a raw '/' in the password: not a URL at all, or one whose "port" is the password's start
    expect(redactUrl('amqp://rowcast:s3c/ret@bro ker')).toBe('amqp://rowcast:***@bro ker');
    expect(redactUrl('amqp://rowcast:123/ret@broker')).toBe('amqp://rowcast:***@broker');
  });
});
