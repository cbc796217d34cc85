import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../../client/src/protocol.js';
import { createTestApp, TestApp } from '../support/app.js';
import { connectClient, TestClient } from '../support/socket.js';
import { backfillFinished, readWholeLog } from '../support/backfills.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

/**
 * A backfill's own events (`<table>.backfill_started`, `.backfill_completed`, `.backfill_stopped`)
 * around its reads in the log, and a backfill aimed at chosen sinks (`destinations`): on the whole
 * app, with real webhook receivers and a real socket.io-client.
 */
describe('backfill events and destinations', () => {
  let t: TestApp;
  const clients: TestClient[] = [];
  const receivers: WebhookReceiver[] = [];
  beforeAll(async () => {
    t = await createTestApp({ listen: true, env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all(receivers.map((receiver) => receiver.close()));
    await t.close();
  });

  async function table(name: string, rows: number): Promise<void> {
    await t.db.sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY, label text)`);
    await t.db.sql.query(`INSERT INTO ${name} SELECT g, 'row ' || g FROM generate_series(1, $1::int) g`, [rows]);
    await t.db.sql.query(`SELECT capture.enable('${name}')`);
  }

  const finished = (id: string, state = 'completed') => backfillFinished(t, id, state);
  const readAll = (query: Record<string, string>) => readWholeLog(t, query);

  async function webhook(name: string, events: string[]): Promise<{ id: string; receiver: WebhookReceiver }> {
    const receiver = new WebhookReceiver();
    await receiver.accept();
    receivers.push(receiver);
    const response = await t.http.post('/webhooks').send({ name, url: receiver.url, events });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return { id: response.body.id, receiver };
  }

  const bodies = (receiver: WebhookReceiver): Notification[] => receiver.requests.filter((r) => r.answer === 'ok').map((r) => JSON.parse(r.body) as Notification);

  it('tells the log of its start before its first read and of its end after its last, with its progress', async () => {
    await table('boxes', 500);
    const { body: started } = await t.http.post('/backfills').send({ table: 'boxes' }).expect(201);
    await finished(started.id);
    const log = (await waitFor(async () => {
      const all = await readAll({ table: 'boxes' });
      return all.some((n) => n.event === 'boxes.backfill_completed') && all;
    }, { what: 'the backfill to complete in the log' })) as Notification[];
    expect(log.map((n) => n.event)).toEqual(['boxes.backfill_started', ...Array(500).fill('boxes.read'), 'boxes.backfill_completed']);
    const [first, last] = [log[0], log[log.length - 1]];
    expect(first.payload).toMatchObject({ op: 'BACKFILL_STARTED', pk: null, old: null, backfill: started.id, table: 'boxes' });
    expect(first.payload.new).toEqual({ id: started.id, state: 'running', where: null, destinations: null, rows: 0, estimate: expect.any(Number), error: null });
    expect(last.payload).toMatchObject({ op: 'BACKFILL_COMPLETED', pk: null, backfill: started.id });
    expect(last.payload.new).toMatchObject({ id: started.id, state: 'completed', rows: 500, estimate: 500, error: null });
    // Like reads, only a filter that names them takes them.
    expect(await readAll({ event: 'boxes.*' })).toEqual([]);
    expect((await readAll({ event: 'boxes.backfill_completed' })).map((n) => n.id)).toEqual([last.id]);
  });

  it('tells of an empty table at once, and of a cancel as backfill_stopped by whoever cancelled it', async () => {
    await table('empties', 0);
    const { body: empty } = await t.http.post('/backfills').send({ table: 'empties' }).expect(201);
    expect(empty.state).toBe('completed');
    await t.db.sql.query(`INSERT INTO empties VALUES (1, 'x')`);
    const { rows: [held] } = await t.db.sql.query(`SELECT id::text FROM capture.backfill_start('empties', NULL, NULL)`);
    await t.db.sql.query(`UPDATE capture.backfills SET state = 'paused' WHERE id = $1`, [held.id]);
    await t.http.post(`/backfills/${held.id}/cancel`).set('x-actor', 'carol').expect(200);
    const events = (await waitFor(async () => {
      const all = await readAll({ table: 'empties' });
      return all.length >= 5 && all;
    }, { what: 'both backfills in the log' })) as Notification[];
    expect(events.map((n) => [n.event, n.payload.backfill ?? null, (n.payload.new as { state?: string } | null)?.state])).toEqual([
      ['empties.backfill_started', empty.id, 'running'],
      ['empties.backfill_completed', empty.id, 'completed'],
      ['empties.created', null, undefined],
      ['empties.backfill_started', held.id, 'running'],
      ['empties.backfill_stopped', held.id, 'cancelled'],
    ]);
    expect(events[4].payload.new).toMatchObject({ rows: 0, error: null });
    expect(events[4].payload.actor).toBe('carol');
  });

  it('goes live to a subscription that names the events, in the log order, and to none that does not', async () => {
    await table('crates', 200);
    const named = await connectClient(t.url);
    const prefix = await connectClient(t.url);
    clients.push(named, prefix);
    const ack = await named.subscribe({ events: ['crates.backfill_started', 'crates.read', 'crates.backfill_completed', 'crates.updated'] });
    expect(ack.ok).toBe(true);
    expect((await prefix.subscribe({ events: ['crates.*'] })).ok).toBe(true);
    const { body: started } = await t.http.post('/backfills').send({ table: 'crates' }).expect(201);
    await finished(started.id);
    await t.db.sql.query(`UPDATE crates SET label = 'after' WHERE id = 1`);
    const got = await named.waitFor(203);
    expect(got.map((n) => n.event)).toEqual(['crates.backfill_started', ...Array(200).fill('crates.read'), 'crates.backfill_completed', 'crates.updated']);
    // The prefix subscriber hears of the update only.
    const other = await prefix.waitFor(1);
    expect(other.map((n) => n.event)).toEqual(['crates.updated']);
  });

  it('delivers a backfill aimed at sinks to those sinks alone, whatever their events, and to no subscription', async () => {
    await table('parcels', 50);
    const aimed = await webhook('parcels-aimed', ['parcels.*']);
    const bystander = await webhook('parcels-reads', ['parcels.read', 'parcels.updated']);
    const subscriber = await connectClient(t.url);
    clients.push(subscriber);
    expect((await subscriber.subscribe({ events: ['parcels.read', 'parcels.backfill_completed', 'parcels.updated'] })).ok).toBe(true);
    await t.http.post('/consumers').send({ name: 'parcel-workers', events: ['parcels.read', 'parcels.updated'], order: 'none' }).expect(201);

    // By name and by id (the same sink once).
    const { body: started } = await t.http.post('/backfills').send({ table: 'parcels', destinations: ['parcels-aimed', aimed.id] }).expect(201);
    expect(started.destinations).toEqual([aimed.id]);
    await finished(started.id);
    await t.db.sql.query(`UPDATE parcels SET label = 'after' WHERE id = 1`);
    await waitFor(() => bodies(aimed.receiver).some((n) => n.event === 'parcels.updated'), { what: 'the aimed sink to get the update' });
    const toAimed = bodies(aimed.receiver);
    expect(toAimed.map((n) => n.event)).toEqual(['parcels.backfill_started', ...Array(50).fill('parcels.read'), 'parcels.backfill_completed', 'parcels.updated']);
    expect(toAimed[1].payload).toMatchObject({ op: 'READ', backfill: started.id, destinations: [aimed.id] });
    // Each of the others got the update after the backfill, and nothing of it.
    await waitFor(() => bodies(bystander.receiver).length > 0, { what: 'the other sink to get the update' });
    expect(bodies(bystander.receiver).map((n) => n.event)).toEqual(['parcels.updated']);
    expect((await subscriber.waitFor(1)).map((n) => n.event)).toEqual(['parcels.updated']);

    // A backfill aimed at no one goes to whoever names parcels.read, and not to a parcels.* sink.
    const { body: open } = await t.http.post('/backfills').send({ table: 'parcels' }).expect(201);
    await finished(open.id);
    await waitFor(() => bodies(bystander.receiver).length >= 51 && subscriber.received.length >= 52, { what: 'the open backfill to reach the others' });
    expect(subscriber.received.map((n) => n.event).slice(1)).toEqual([...Array(50).fill('parcels.read'), 'parcels.backfill_completed']);
    await t.db.sql.query(`UPDATE parcels SET label = 'last' WHERE id = 2`);
    await waitFor(() => bodies(aimed.receiver).length >= 54, { what: 'the aimed sink to get the last update' });
    expect(bodies(aimed.receiver).slice(53).map((n) => n.event)).toEqual(['parcels.updated']);
    // A consumer group that names the reads got the open backfill's, and none of the aimed one's.
    const taken: Notification[] = [];
    await waitFor(async () => {
      const { body } = await t.http.post('/consumers/parcel-workers/receive').send({ max: 100, waitMs: 0 }).expect(200);
      taken.push(...body.messages.map((m: { notification: Notification }) => m.notification));
      return taken.length >= 52;
    }, { what: 'the group to take the open backfill and both updates' });
    expect(taken.map((n) => [n.event, n.payload.backfill ?? null])).toEqual([
      ['parcels.updated', null],
      ...Array(50).fill(['parcels.read', open.id]),
      ['parcels.updated', null],
    ]);
  });

  it('refuses destinations that name no sink, or are no list of names, with a 4xx naming them', async () => {
    await table('sacks', 10);
    await webhook('sacks-aimed', ['sacks.*']);
    const refused = async (destinations: unknown, status: number, message: string | RegExp) => {
      const response = await t.http.post('/backfills').send({ table: 'sacks', destinations });
      expect({ status: response.status, message: response.body.message }).toEqual({ status, message: typeof message === 'string' ? message : expect.stringMatching(message) });
    };
    await refused(['nope', 'sacks-aimed', '8b5f7d3e-0000-4000-8000-000000000000'], 422, 'destinations: no sink has the id or name nope, 8b5f7d3e-0000-4000-8000-000000000000');
    await refused([], 400, /^destinations must name at least one sink/);
    await refused('sacks-aimed', 400, 'destinations must be a list of sink ids or names');
    await refused(['no spaces'], 400, 'destinations must be a list of sink ids or names');
    const { body: list } = await t.http.get('/backfills').expect(200);
    expect(list.filter((b: { table: string; state: string }) => b.table === 'sacks' && b.state === 'running')).toEqual([]);
  });
});
