import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { AsyncMessage, Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsSubjectVocabulary1764610000000 } from '../../migrations/1764610000000-NatsSubjectVocabulary.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** The labels a consumer reads, by what they mean; each broker's spelling of the names is its own. */
interface Labels {
  event: string;
  table: string;
  op: string;
  id: string;
}

interface Received {
  /** The routing key or the subject. */
  address: string;
  labels: Partial<Labels>;
  /** The AMQP message-id or Nats-Msg-Id. */
  messageId?: string;
}

/** Against the machine's RabbitMQ and NATS: one issue-18 vocabulary for both brokers' messages. */
describe('broker message labels', () => {
  const run = randomBytes(4).toString('hex');
  const cleanups: Array<() => Promise<unknown>> = [];
  let rabbit: Connection;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    rabbit = new Connection({ url: RABBITMQ_URL, retryLow: 100, retryHigh: 1_000 });
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rabbit?.close();
    await nc?.drain();
  });

  /** Everything the exchange routes from now on. */
  async function consumeExchange(label: string): Promise<{ exchange: string; received: Received[] }> {
    const exchange = `rowcast-test-${run}-${label}`;
    const queue = exchange;
    const received: Received[] = [];
    let ready = false;
    const consumer = rabbit.createConsumer(
      { queue, queueOptions: { exclusive: true }, exchanges: [{ exchange, type: 'topic', durable: true }], queueBindings: [{ exchange, queue, routingKey: '#' }] },
      (message: AsyncMessage) => {
        const headers = message.headers ?? {};
        received.push({
          address: message.routingKey,
          messageId: message.messageId,
          labels: { event: headers['rowcast-event'], table: headers['rowcast-table'], op: headers['rowcast-op'], id: headers['rowcast-id'] },
        });
      },
    );
    consumer.on('ready', () => (ready = true));
    cleanups.push(() => rabbit.exchangeDelete({ exchange }));
    cleanups.push(() => consumer.close());
    await waitFor(() => ready, { what: `the consumer on ${queue}` });
    return { exchange, received };
  }

  function streamNames(label: string): { stream: string; subjectPrefix: string } {
    const stream = `rowcast_test_${run}_${label}`;
    cleanups.push(() => jsm.streams.delete(stream));
    return { stream, subjectPrefix: `rowcast-test-${run}.${label}` };
  }

  /** The whole stream, in order, once it holds `count` messages. */
  async function readStream(stream: string, count: number): Promise<Received[]> {
    await waitFor(async () => ((await jsm.streams.info(stream).catch(() => undefined))?.state.messages ?? 0) >= count, {
      timeout: 20_000,
      what: `${count} messages in ${stream}`,
    });
    const consumer = await jetstream(nc).consumers.get(stream);
    const received: Received[] = [];
    for await (const m of await consumer.fetch({ max_messages: count, expires: 10_000 })) {
      const get = (name: string) => m.headers?.get(name) || undefined;
      received.push({
        address: m.subject,
        messageId: get('Nats-Msg-Id'),
        labels: { event: get('Rowcast-Event'), table: get('Rowcast-Table'), op: get('Rowcast-Op'), id: get('Rowcast-Id') },
      });
    }
    return received;
  }

  /** The notifications of `table` after `after`, as the labels should tell them. */
  async function notifications(t: TestApp, table: string, after: string, count: number): Promise<Labels[]> {
    return waitFor(async () => {
      const { rows } = await t.db.sql.query<Labels>(
        `SELECT id::text AS id, event, table_name AS "table", payload->>'op' AS op FROM notifications WHERE table_name = $1 AND id > $2 ORDER BY id`,
        [table, after],
      );
      return rows.length >= count ? rows : undefined;
    });
  }

  it('labels each notification alike on RabbitMQ and NATS: the same headers, the event as routing key and as subject, TRUNCATE and schema changes included', async () => {
    const { exchange, received: fromRabbit } = await consumeExchange('alike');
    const { stream, subjectPrefix } = streamNames('alike');
    const t = await createTestApp({ env: { SINK_LEASE_MS: '1000' } });
    try {
      await t.db.sql.query(`CREATE SCHEMA sales; CREATE TABLE sales.orders (id int PRIMARY KEY, note text)`);
      await t.db.sql.query(`SELECT capture.enable('sales.orders')`);
      const filter = { tables: ['sales.orders'] };
      const rabbitSink = await t.http.post('/sinks').send({ kind: 'rabbitmq', name: 'rabbit', ...filter, rabbitmq: { url: RABBITMQ_URL, exchange } });
      expect(rabbitSink.status, JSON.stringify(rabbitSink.body)).toBe(201);
      const natsSink = await t.http.post('/sinks').send({ kind: 'nats', name: 'nats', ...filter, nats: { servers: [NATS_URL], subjectPrefix, stream } });
      expect(natsSink.status, JSON.stringify(natsSink.body)).toBe(201);
      expect(natsSink.body.settings.subjectVocabulary).toBe('events');
      const after = [rabbitSink.body.position, natsSink.body.position].reduce((a: string, b: string) => (BigInt(a) < BigInt(b) ? a : b));

      await t.db.sql.query(`INSERT INTO sales.orders VALUES (1, 'a'), (2, 'b')`);
      await t.db.sql.query(`UPDATE sales.orders SET note = 'c' WHERE id = 1`);
      await t.db.sql.query(`DELETE FROM sales.orders WHERE id = 2`);
      await t.db.sql.query(`TRUNCATE sales.orders`);
      await t.db.sql.query(`ALTER TABLE sales.orders ADD COLUMN total numeric`);
      const expected = await notifications(t, 'sales.orders', after, 6);
      expect(expected.map((n) => n.op)).toEqual(['INSERT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA_CHANGE']);

      const fromNats = await readStream(stream, expected.length);
      await waitFor(() => fromRabbit.length >= expected.length, { timeout: 20_000, what: `${expected.length} RabbitMQ deliveries` });

      expect(fromRabbit).toEqual(expected.map((n) => ({ address: n.event, messageId: n.id, labels: n })));
      expect(fromNats).toEqual(expected.map((n) => ({ address: `${subjectPrefix}.${n.event}`, messageId: n.id, labels: n })));
      expect(fromNats.map((m) => m.address.slice(subjectPrefix.length + 1))).toEqual([
        'sales.orders.created',
        'sales.orders.created',
        'sales.orders.updated',
        'sales.orders.deleted',
        'sales.orders.truncated',
        'sales.orders.schema_changed',
      ]);
    } finally {
      await t.close();
    }
  }, 60_000);

  it('keeps a NATS sink that was there before the new subjects on the old ones, with the new headers, until it is switched', async () => {
    const { stream, subjectPrefix } = streamNames('legacy');
    const t = await createTestApp({ env: { SINK_LEASE_MS: '1000' } });
    try {
      const created = await t.http.post('/sinks').send({ kind: 'nats', name: 'old', tables: ['invoices'], nats: { servers: [NATS_URL], subjectPrefix, stream } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const sink = created.body as { id: string };
      // The row as the release before wrote it, then the migration as an upgrade runs it.
      await t.db.sql.query(`UPDATE sinks SET config = config - 'subjectVocabulary' WHERE id = $1`, [sink.id]);
      await new NatsSubjectVocabulary1764610000000().up({ query: (text: string) => t.db.sql.query(text) } as never);
      expect((await t.http.get(`/sinks/${sink.id}`)).body.settings.subjectVocabulary).toBe('legacy');
      // A change to something else (here its name) keeps it on the old subjects; the runner takes the row as it is now.
      await t.http.patch(`/sinks/${sink.id}`).send({ name: 'old-renamed', nats: { servers: [NATS_URL] } }).expect(200);
      const { rows } = await t.db.sql.query(`SELECT coalesce(max(id), 0)::text AS id FROM notifications`);
      const legacy = (await jsm.streams.info(stream)).state.messages + 3;

      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('LEGACY-1')`);
      await t.db.sql.query(`UPDATE invoices SET invoice_no = 'LEGACY-2' WHERE invoice_no = 'LEGACY-1'`);
      await t.db.sql.query(`DELETE FROM invoices WHERE invoice_no = 'LEGACY-2'`);
      const before = await notifications(t, 'invoices', rows[0].id, 3);
      const stored = (await readStream(stream, legacy)).slice(-3);
      expect(stored).toEqual(before.map((n) => ({ address: `${subjectPrefix}.invoices.${n.op.toLowerCase()}`, messageId: n.id, labels: n })));

      // Switched: the event names from then on.
      const switched = await t.http.patch(`/sinks/${sink.id}`).send({ nats: { subjectVocabulary: 'events' } });
      expect(switched.status, JSON.stringify(switched.body)).toBe(200);
      expect(switched.body.settings.subjectVocabulary).toBe('events');
      const last = before[before.length - 1].id;
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('EVENTS-1')`);
      const [next] = await notifications(t, 'invoices', last, 1);
      const [latest] = (await readStream(stream, legacy + 1)).slice(-1);
      expect(latest).toEqual({ address: `${subjectPrefix}.invoices.created`, messageId: next.id, labels: next });
    } finally {
      await t.close();
    }
  }, 60_000);
});
