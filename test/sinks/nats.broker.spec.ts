import { DiscardPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsTransport, NatsTransportConfig } from '../../src/sinks/drivers/nats.transport.js';
import { SinkMessage } from '../../src/sinks/sink-transport.js';
import { createTestApp } from '../support/app.js';
import { startNatsServer, type PrivateNatsServer } from '../support/nats-server.js';
import { waitFor } from '../support/wait.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const OPS = ['INSERT', 'UPDATE', 'DELETE'] as const;
const VERBS = { INSERT: 'created', UPDATE: 'updated', DELETE: 'deleted' } as const;

interface StoredMessage {
  seq: number;
  subject: string;
  id?: string;
  event?: string;
  table?: string;
  op?: string;
  rowcastId?: string;
  contentType?: string;
  body: string;
}

/** Against the machine's NATS server: every test has its own stream and prefix, deleted afterwards. */
describe('NatsTransport', () => {
  const run = randomBytes(4).toString('hex');
  const streams: string[] = [];
  const transports: NatsTransport[] = [];
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    for (const transport of transports) await transport.close();
    // A test that failed early may not have created its stream.
    for (const stream of streams) await jsm?.streams.delete(stream).catch(() => false);
    await nc?.drain();
  });

  /** A stream name and subject prefix of this run, registered for deletion. */
  function names(label: string): { stream: string; subjectPrefix: string } {
    const stream = `rowcast_test_${run}_${label}`;
    streams.push(stream);
    return { stream, subjectPrefix: `rowcast-test-${run}.${label}` };
  }

  /** A transport publishing to event-name subjects unless told otherwise. */
  function createTransport(config: Omit<NatsTransportConfig, 'subjectVocabulary'> & Partial<NatsTransportConfig>): NatsTransport {
    const transport = new NatsTransport({ subjectVocabulary: 'events', ...config });
    transports.push(transport);
    return transport;
  }

  /** Messages numbered `from`..`to` (inclusive), over a public and a schema-qualified table. */
  function messages(label: string, from: number, to: number): SinkMessage[] {
    return Array.from({ length: to - from + 1 }, (_, i) => {
      const n = from + i;
      const id = `${run}-${label}-${n}`;
      const table = n % 2 ? 'invoices' : 'sales.orders';
      const op = OPS[n % 3];
      return { id, table, op, event: `${table}.${VERBS[op]}`, body: JSON.stringify({ id, n, note: 'Bücher €' }) };
    });
  }

  function subjectOf(subjectPrefix: string, message: SinkMessage): string {
    return `${subjectPrefix}.${message.event}`;
  }

  /** The whole stream, in order, through an ordered consumer. */
  async function readStream(stream: string): Promise<StoredMessage[]> {
    const { state } = await jsm.streams.info(stream);
    const consumer = await jetstream(nc).consumers.get(stream);
    const batch = await consumer.fetch({ max_messages: state.messages, expires: 10_000 });
    const stored: StoredMessage[] = [];
    for await (const m of batch) {
      stored.push({
        seq: m.seq,
        subject: m.subject,
        id: m.headers?.get('Nats-Msg-Id'),
        event: m.headers?.get('Rowcast-Event'),
        table: m.headers?.get('Rowcast-Table'),
        op: m.headers?.get('Rowcast-Op'),
        rowcastId: m.headers?.get('Rowcast-Id'),
        contentType: m.headers?.get('Content-Type'),
        body: m.string(),
      });
    }
    return stored;
  }

  it('as a sink: publishes what its filter matches in log order, and a redelivery from a cursor adds nothing to the stream', async () => {
    const { stream, subjectPrefix } = names('sink');
    const t = await createTestApp({ env: { SINK_LEASE_MS: '1000' } });
    try {
      const created = await t.http
        .post('/sinks')
        .send({ kind: 'nats', name: 'invoices', tables: ['invoices'], events: ['invoices.created'], nats: { servers: [NATS_URL], subjectPrefix, stream, token: 'n0t-a-real-token' } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(JSON.stringify(created.body)).not.toContain('n0t-a-real-token');
      const sink = created.body as { id: string; position: string };
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'NATS-' || g FROM generate_series(1, 300) g`);
      await t.db.sql.query(`UPDATE invoices SET invoice_no = invoice_no || '-x' WHERE invoice_no LIKE 'NATS-1%'`); // invoices.updated: filtered out
      const rows = await waitFor(async () => {
        const { rows: found } = await t.db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.id > $1 AND n.event = 'invoices.created' ORDER BY n.id`, [
          sink.position,
        ]);
        return found.length === 300 ? found : undefined;
      });
      const stored = async () => (await jsm.streams.info(stream).catch(() => undefined))?.state.messages ?? 0;
      await waitFor(async () => (await stored()) >= 300, { timeout: 20_000, what: '300 messages in the stream' });
      const first = await readStream(stream);
      expect(first.map((message) => message.id)).toEqual(rows.map((row) => row.id));
      expect(new Set(first.map((message) => message.subject))).toEqual(new Set([`${subjectPrefix}.invoices.created`]));

      // Everything again from the sink's first position: the stream's duplicate window drops it all.
      const end = (await t.http.get(`/sinks/${sink.id}`)).body.position as string;
      await t.http.post(`/sinks/${sink.id}/redeliver`).send({ from: sink.position }).expect(202);
      await waitFor(async () => {
        const body = (await t.http.get(`/sinks/${sink.id}`)).body as { position: string };
        return BigInt(body.position) >= BigInt(end) && (await t.http.get('/metrics')).text.includes('rowcast_sink_deliveries_total{sink="invoices",kind="nats"} 600');
      }, { timeout: 20_000, what: 'the redelivery confirmed' });
      expect(await stored()).toBe(300);
    } finally {
      await t.close();
    }
  }, 60_000);

  it('as a sink: publishes a backlog of several pages, filtered, in log order, each once, and moves to its end', async () => {
    const { stream, subjectPrefix } = names('backlog');
    const t = await createTestApp({ env: { SINK_LEASE_MS: '1000' } });
    try {
      // Pages that match in part, in full and not at all (invoices.updated is filtered out).
      for (const [from, to] of [[1, 1000], [1001, 2000], [2001, 3500]]) {
        await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'PAGES-' || g FROM generate_series($1::int, $2::int) g`, [from, to]);
        await t.db.sql.query(`UPDATE invoices SET invoice_no = invoice_no || '-x' WHERE invoice_no IN (SELECT 'PAGES-' || g FROM generate_series($1::int, $1::int + 1199) g)`, [from]);
      }
      const end = await waitFor(async () => {
        const { rows } = await t.db.sql.query(`SELECT count(*)::int AS n, max(id)::text AS last FROM notifications WHERE table_name = 'invoices'`);
        return rows[0].n >= 3500 + 1000 + 1000 + 1200 ? (rows[0].last as string) : undefined;
      });
      const { rows } = await t.db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE n.event = 'invoices.created' ORDER BY n.id`);

      const created = await t.http
        .post('/sinks')
        .send({ kind: 'nats', name: 'backlog', events: ['invoices.created'], from: 'start', nats: { servers: [NATS_URL], subjectPrefix, stream } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const sink = created.body as { id: string };
      await waitFor(async () => (await t.http.get(`/sinks/${sink.id}`)).body.position === end, { timeout: 30_000, what: 'the sink at the log end' });

      expect((await readStream(stream)).map((message) => message.id)).toEqual(rows.map((row) => row.id));
      // The stream would drop a repeat by its id: the sink's own count says none was sent twice.
      expect((await t.http.get('/metrics')).text).toContain(`rowcast_sink_deliveries_total{sink="backlog",kind="nats"} ${rows.length}\n`);
      expect((await t.http.get(`/sinks/${sink.id}`)).body).toMatchObject({ state: 'active', lastError: null });
    } finally {
      await t.close();
    }
  }, 60_000);

  it('as a sink: its stream is there when POST /sinks answers, for a consumer made at once; a stream that cannot serve it is a 422', async () => {
    const { stream, subjectPrefix } = names('created');
    const t = await createTestApp();
    try {
      const created = await t.http.post('/sinks').send({ kind: 'nats', name: 'ready', nats: { servers: [NATS_URL], subjectPrefix, stream } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ state: 'active', lastError: null });
      // What a consumer does first, before a single notification was delivered.
      const consumer = await jsm.consumers.add(stream, { durable_name: 'first', filter_subject: `${subjectPrefix}.>` });
      expect(consumer.stream_name).toBe(stream);
      expect((await jsm.streams.info(stream)).config.subjects).toEqual([`${subjectPrefix}.>`]);

      // A changed prefix is readied too: the existing stream does not capture it, so the change is refused.
      const moved = await t.http.patch(`/sinks/${created.body.id}`).send({ nats: { subjectPrefix: `${subjectPrefix}-moved` } });
      expect(moved.status).toBe(422);
      expect(moved.body.message).toBe(
        `the nats server refused to ready this sink's destination: stream ${stream} does not capture ${subjectPrefix}-moved.> (its subjects: ${subjectPrefix}.>)`,
      );
      expect((await t.http.get(`/sinks/${created.body.id}`)).body.settings.subjectPrefix).toBe(subjectPrefix);

      // Another sink on the same stream name with a prefix it does not capture: refused, not created.
      const other = await t.http.post('/sinks').send({ kind: 'nats', name: 'elsewhere', nats: { servers: [NATS_URL], subjectPrefix: `${subjectPrefix}-b`, stream } });
      expect(other.status).toBe(422);
      expect(other.body.message).toMatch(new RegExp(`^the nats server refused to ready this sink's destination: stream ${stream} does not capture`));
      expect(((await t.http.get('/sinks')).body as { name: string }[]).map((sink) => sink.name)).toEqual(['ready']);

      // A server that cannot be reached: the sink is created failing, saying why; delivery makes the stream later.
      const unreachable = await t.http.post('/sinks').send({ kind: 'nats', name: 'nowhere', nats: { servers: ['nats://127.0.0.1:1'] } });
      expect(unreachable.status).toBe(201);
      expect(unreachable.body).toMatchObject({ state: 'failing', lastError: 'cannot connect: connection refused', recoveredAt: null });
      expect(unreachable.body.lastErrorAt).toBeTruthy();
    } finally {
      await t.close();
    }
  });

  it('publishes 1,000 messages in order, each with its id, headers and body', async () => {
    const { stream, subjectPrefix } = names('all');
    const sut = createTransport({ servers: [NATS_URL], stream, subjectPrefix });
    const sent = messages('all', 1, 1000);

    expect(await sut.send(sent)).toEqual({ confirmed: 1000 });

    const info = await jsm.streams.info(stream);
    expect(info.config).toMatchObject({ subjects: [`${subjectPrefix}.>`], storage: 'file', duplicate_window: 120_000_000_000 });
    const stored = await readStream(stream);
    expect(stored).toEqual(
      sent.map((message, i) => ({
        seq: i + 1,
        subject: subjectOf(subjectPrefix, message),
        id: message.id,
        event: message.event,
        table: message.table,
        op: message.op,
        rowcastId: message.id,
        contentType: 'application/json',
        body: message.body,
      })),
    );
    expect(stored[1].subject).toBe(`${subjectPrefix}.sales.orders.deleted`);
  });

  it('publishes a table whose name NATS cannot take in a subject (whitespace, %) under a percent-encoded token, its headers as they are', async () => {
    const { stream, subjectPrefix } = names('odd');
    const sut = createTransport({ servers: [NATS_URL], stream, subjectPrefix });
    const odd = (id: string, table: string): SinkMessage => ({ id: `${run}-odd-${id}`, table, op: 'INSERT', event: `${table}.created`, body: '{}' });
    const sent = [odd('1', 'invoices'), odd('2', 'order items'), odd('3', 'tab\there'), odd('4', '50% off'), odd('5', 'invoices')];

    expect(await sut.send(sent)).toEqual({ confirmed: 5 });
    const stored = await readStream(stream);
    expect(stored.map((m) => m.subject)).toEqual(
      ['invoices.created', 'order%20items.created', 'tab%09here.created', '50%25%20off.created', 'invoices.created'].map((event) => `${subjectPrefix}.${event}`),
    );
    expect(stored.map((m) => [m.event, m.table])).toEqual(sent.map((m) => [m.event, m.table]));
    // The legacy vocabulary's table token likewise.
    const legacy = names('odd-legacy');
    const old = createTransport({ servers: [NATS_URL], ...legacy, subjectVocabulary: 'legacy' });
    expect(await old.send([odd('6', 'order items')])).toEqual({ confirmed: 1 });
    expect((await readStream(legacy.stream)).map((m) => m.subject)).toEqual([`${legacy.subjectPrefix}.order%20items.insert`]);
  });

  it('confirms a redelivered range without storing it twice', async () => {
    const { stream, subjectPrefix } = names('again');
    const sut = createTransport({ servers: [NATS_URL], stream, subjectPrefix });

    expect(await sut.send(messages('again', 1, 1000))).toEqual({ confirmed: 1000 });
    // As the engine does after an unknown outcome: from the first message it is unsure of.
    expect(await sut.send(messages('again', 500, 1000))).toEqual({ confirmed: 501 });

    const { state } = await jsm.streams.info(stream);
    expect(state).toMatchObject({ messages: 1000, first_seq: 1, last_seq: 1000 });
    const stored = await readStream(stream);
    expect(stored.map((m) => m.id)).toEqual(messages('again', 1, 1000).map((m) => m.id));
  });

  it('confirms what the stream stored before one it refused, and says why it refused it', async () => {
    const { stream, subjectPrefix } = names('full');
    await jsm.streams.add({ name: stream, subjects: [`${subjectPrefix}.>`], max_msgs: 5, discard: DiscardPolicy.New });
    const sut = createTransport({ servers: [NATS_URL], stream, subjectPrefix });

    const result = await sut.send(messages('full', 1, 8));

    expect(result.confirmed).toBe(5);
    expect(result.error).toMatch(/^JetStream refused it: maximum messages exceeded \(\d+\)$/);
    expect((await readStream(stream)).map((m) => m.id)).toEqual(messages('full', 1, 5).map((m) => m.id));
  });

  it('reports an existing stream that does not capture the prefix, and leaves it as is', async () => {
    const { stream, subjectPrefix } = names('elsewhere');
    await jsm.streams.add({ name: stream, subjects: [`${subjectPrefix}-other.>`] });
    const sut = createTransport({ servers: [NATS_URL], stream, subjectPrefix });

    const result = await sut.send(messages('elsewhere', 1, 3));

    expect(result.confirmed).toBe(0);
    expect(result.error).toContain(stream);
    expect(result.error).toContain(`${subjectPrefix}.>`);
    const info = await jsm.streams.info(stream);
    expect(info.config.subjects).toEqual([`${subjectPrefix}-other.>`]);
    expect(info.state.messages).toBe(0);
  });

  it('reports a stream deleted under it, and creates it again on the next send', async () => {
    const { stream, subjectPrefix } = names('deleted');
    const sut = createTransport({ servers: [NATS_URL], stream, subjectPrefix });
    expect(await sut.send(messages('deleted', 1, 10))).toEqual({ confirmed: 10 });
    await jsm.streams.delete(stream);

    const [first] = messages('deleted', 11, 11);
    expect(await sut.send([first])).toEqual({ confirmed: 0, error: `no stream for subject ${subjectOf(subjectPrefix, first)}` });
    expect(await sut.send([first])).toEqual({ confirmed: 1 });

    expect((await readStream(stream)).map((m) => m.id)).toEqual([first.id]);
  });

  it('reports an unreachable server within the timeout, without its credentials', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { stream, subjectPrefix } = names('unreachable');
      const secrets = { token: `token-${run}`, pass: `pass-${run}` };
      const withToken = createTransport({ servers: ['nats://127.0.0.1:1'], stream, subjectPrefix, token: secrets.token, timeoutMs: 1500 });
      const withPassword = createTransport({
        servers: ['nats://127.0.0.1:1'],
        stream,
        subjectPrefix,
        user: 'rowcast',
        pass: secrets.pass,
        timeoutMs: 1500,
      });

      for (const sut of [withToken, withPassword, withToken]) {
        const started = Date.now();
        const result = await sut.send(messages('unreachable', 1, 5));
        expect(Date.now() - started).toBeLessThan(1500);
        expect(result.confirmed).toBe(0);
        expect(result.error).toBeTruthy();
        expect(result.error).not.toContain(secrets.token);
        expect(result.error).not.toContain(secrets.pass);
      }
      await withToken.close();
      await withToken.close();
      expect(await withToken.send(messages('unreachable', 1, 1))).toEqual({ confirmed: 0, error: 'transport closed' });
      await new Promise(setImmediate);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('gives up on a server that accepts the connection but never answers, at the timeout', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket)).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const { stream, subjectPrefix } = names('silent');
      const sut = createTransport({ servers: [`nats://127.0.0.1:${port}`], stream, subjectPrefix, timeoutMs: 1500 });

      const started = Date.now();
      const result = await sut.send(messages('silent', 1, 5));

      expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(result).toEqual({ confirmed: 0, error: 'timed out after 1500 ms' });
      await sut.close();
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

/** A server whose `max_payload` is small (the default is 1 MB): a wide row is more than it takes. */
describe('NATS: a notification larger than the server or the stream takes', () => {
  const run = randomBytes(4).toString('hex');
  let server: PrivateNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer({ maxPayload: 8192 });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.drain();
    await server?.stop();
  });

  /** The stream's messages in order: their ids and parsed bodies. */
  async function read(stream: string): Promise<{ id?: string; body: Record<string, unknown> }[]> {
    const { state } = await (await jetstreamManager(nc)).streams.info(stream);
    const consumer = await jetstream(nc).consumers.get(stream);
    const stored: { id?: string; body: Record<string, unknown> }[] = [];
    for await (const m of await consumer.fetch({ max_messages: state.messages, expires: 10_000 })) {
      stored.push({ id: m.headers?.get('Nats-Msg-Id'), body: m.json() });
    }
    return stored;
  }

  it('as a sink: is delivered truncated, with a link to the whole one, in order between the others, and delivery goes on', async () => {
    const stream = `rowcast_large_${run}`;
    const t = await createTestApp({ env: { SINK_LEASE_MS: '1000' } });
    try {
      await t.db.sql.query(`CREATE TABLE documents (id int PRIMARY KEY, body text NOT NULL)`);
      await t.db.sql.query(`SELECT capture.enable('documents')`);
      const created = await t.http
        .post('/sinks')
        .send({ kind: 'nats', name: 'documents', tables: ['documents'], nats: { servers: [server.url], subjectPrefix: `large-${run}`, stream } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const sink = created.body as { id: string; position: string };

      // 20 KB of text in the second row: its notification is over 8 KB, the others far below. One
      // statement: the three go to the transport in one send, the large one in the middle.
      await t.db.sql.query(`INSERT INTO documents VALUES (1, 'small'), (2, repeat('x', 20000)), (3, 'small again')`);
      const ids = await waitFor(async () => {
        const { rows } = await t.db.sql.query(`SELECT id::text AS id FROM notifications WHERE id > $1 AND table_name = 'documents' ORDER BY id`, [sink.position]);
        return rows.length === 3 ? rows.map((row) => row.id as string) : undefined;
      });
      const stored = async () => (await (await jetstreamManager(nc)).streams.info(stream).catch(() => undefined))?.state.messages ?? 0;
      await waitFor(async () => (await stored()) >= 3, { timeout: 20_000, what: 'three messages in the stream' });

      const messages = await read(stream);
      expect(messages.map((message) => message.id)).toEqual(ids);
      expect(messages[0].body).toMatchObject({ id: ids[0], payload: { new: { id: 1, body: 'small' } } });
      expect(messages[0].body).not.toHaveProperty('truncated');
      const whole = (await t.http.get(`/notifications/${ids[1]}`).expect(200)).body as { createdAt: string; payload: Record<string, unknown> };
      const { new: _new, old: _old, changedColumns: _changed, ...keys } = whole.payload;
      expect(messages[1].body).toEqual({
        id: ids[1],
        event: 'documents.created',
        createdAt: whole.createdAt,
        truncated: true,
        href: `/notifications/${ids[1]}`,
        payload: keys,
      });
      expect(keys).toMatchObject({ table: 'documents', op: 'INSERT', pk: { id: 2 } });
      // The link gives the whole notification.
      expect((await t.http.get(messages[1].body.href as string).expect(200)).body.payload.new.body).toHaveLength(20000);
      expect(messages[2].body).toMatchObject({ id: ids[2], payload: { new: { id: 3, body: 'small again' } } });

      // Delivered: the sink is active at the end, and goes on with what comes next.
      await t.db.sql.query(`INSERT INTO documents VALUES (4, 'later')`);
      await waitFor(async () => (await stored()) >= 4, { timeout: 20_000, what: 'the fourth message' });
      const { rows } = await t.db.sql.query(`SELECT max(id)::text AS id FROM notifications`);
      await waitFor(async () => (await t.http.get(`/sinks/${sink.id}`)).body.position === rows[0].id, { what: 'the position at the log end' });
      expect((await t.http.get(`/sinks/${sink.id}`)).body).toMatchObject({ state: 'active', lastError: null });
      const metrics = (await t.http.get('/metrics')).text;
      expect(metrics).toMatch(/^rowcast_sink_truncated_deliveries_total\{sink="documents",kind="nats",reason="max_payload"\} 1$/m);
      expect(metrics).toMatch(/^rowcast_sink_deliveries_total\{sink="documents",kind="nats"\} 4$/m);
    } finally {
      await t.close();
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
    }
  }, 60_000);

  it('publishes nothing from a message over max_payload on, and says it is too large', async () => {
    const stream = `rowcast_payload_${run}`;
    const sut = new NatsTransport({ servers: [server.url], stream, subjectPrefix: `payload-${run}`, subjectVocabulary: 'events' });
    try {
      const message = (n: number, size: number): SinkMessage => ({ id: `${run}-${n}`, table: 'documents', op: 'INSERT', event: 'documents.created', body: JSON.stringify({ n, text: 'x'.repeat(size) }) });

      const result = await sut.send([message(1, 10), message(2, 8192), message(3, 10)]);

      expect(result).toEqual({ confirmed: 1, tooLarge: 'max_payload', error: expect.stringMatching(/^message of \d+ bytes is larger than the server's max_payload \(8192 bytes\)$/) });
      expect((await read(stream)).map((m) => m.id)).toEqual([`${run}-1`]);
      // The first one too large: nothing goes out.
      expect(await sut.send([message(2, 8192), message(3, 10)])).toMatchObject({ confirmed: 0, tooLarge: 'max_payload' });
      expect(await sut.send([message(3, 10)])).toEqual({ confirmed: 1 });
      expect((await read(stream)).map((m) => m.id)).toEqual([`${run}-1`, `${run}-3`]);
    } finally {
      await sut.close();
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
    }
  });

  it('publishes nothing from a message over its stream’s max_msg_size on, and says it is too large', async () => {
    const stream = `rowcast_msgsize_${run}`;
    const subjectPrefix = `msgsize-${run}`;
    await (await jetstreamManager(nc)).streams.add({ name: stream, subjects: [`${subjectPrefix}.>`], max_msg_size: 2048 });
    const sut = new NatsTransport({ servers: [server.url], stream, subjectPrefix, subjectVocabulary: 'events' });
    try {
      const message = (n: number, size: number): SinkMessage => ({ id: `${run}-${n}`, table: 'documents', op: 'INSERT', event: 'documents.created', body: JSON.stringify({ n, text: 'x'.repeat(size) }) });

      const result = await sut.send([message(1, 10), message(2, 4000), message(3, 10)]);

      expect(result).toEqual({ confirmed: 1, tooLarge: 'max_msg_size', error: expect.stringMatching(new RegExp(`^message of \\d+ bytes is larger than stream ${stream}'s max_msg_size \\(2048 bytes\\)$`)) });
      expect((await read(stream)).map((m) => m.id)).toEqual([`${run}-1`]);
    } finally {
      await sut.close();
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
    }
  });
});
