import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { waitForNotifications } from '../support/notifications.js';
import { connectClient, TestClient } from '../support/socket.js';
import { LiveTail } from '../../src/log/live-tail.js';
import { LogDrainer } from '../../src/log/log-drainer.js';
import { waitFor } from '../support/wait.js';

/** Only one instance drains; every instance tails the log and pushes to its own clients. */
describe('WebSocket push from two instances', () => {
  let db: TestDatabase;
  let apps: TestApp[];
  let clients: TestClient[];

  beforeAll(async () => {
    db = await createTestDatabase();
    apps = [await createTestApp({ db, listen: true }), await createTestApp({ db, listen: true })];
    clients = await Promise.all(apps.flatMap((app) => [connectClient(app.url), connectClient(app.url)]));
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    for (const app of apps) await app.close();
    await db.drop();
  });

  it('gives every client on either instance every matching change exactly once, in order', async () => {
    for (const client of clients) expect((await client.subscribe({ events: ['invoices.created'] })).ok).toBe(true);
    const writes = 200;
    await Promise.all(
      Array.from({ length: 4 }, async (_, writer) => {
        for (let i = 0; i < writes / 4; i++) {
          await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`MI-${writer}-${i}`]);
        }
      }),
    );
    const stored = await waitForNotifications(db.sql, writes, { where: `event = 'invoices.created'` });
    const expected = stored.map((n) => n.id);
    for (const client of clients) {
      const received = await client.waitFor(writes);
      expect(received.map((n) => n.id)).toEqual(expected);
    }
  });
});

/** An instance reads the log only for what its clients and sinks need: nothing with none. */
describe('an instance with no subscriber', () => {
  let db: TestDatabase;
  let apps: TestApp[];

  beforeAll(async () => {
    db = await createTestDatabase();
    apps = [await createTestApp({ db, listen: true }), await createTestApp({ db, listen: true })];
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await db.drop();
  });

  const write = async (count: number, prefix: string) => {
    for (let i = 0; i < count; i++) await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`${prefix}-${i}`]);
  };

  it('follows the log without reading it, then gives a new subscriber everything from its start, and a resumed one everything', async () => {
    await waitFor(() => apps.some((app) => app.app.get(LogDrainer).getStatus().draining));
    // The instance that does not drain: its tail reads the log when it needs to.
    const idle = apps.find((app) => !app.app.get(LogDrainer).getStatus().draining)!;
    const tail = idle.app.get(LiveTail);
    await tail.ready;
    const readsBefore = tail.reads;
    await write(30, 'IDLE');
    const before = await waitForNotifications(db.sql, 30);
    const end = BigInt(before.at(-1)!.id);
    await waitFor(() => tail.lastId === end, { what: 'the idle tail to follow the log' });
    expect(tail.reads).toBe(readsBefore);

    const client = await connectClient(idle.url);
    try {
      const live = await client.subscribe({ events: ['invoices.created'] });
      expect(live).toMatchObject({ ok: true, cursor: end.toString() });
      const resumed = await client.subscribe({ events: ['invoices.created'], since: '0' });
      expect(resumed.ok).toBe(true);
      await write(20, 'LIVE');
      const all = await waitForNotifications(db.sql, 50);
      const ids = all.map((n) => n.id);
      // Each subscription gets its own: the live one what came after it, the resumed one everything.
      const of = (ack: { subscriptionId?: string }) => client.receivedFor(ack.subscriptionId!).map((n) => n.id);
      await waitFor(() => of(live).length >= 20 && of(resumed).length >= 50, { what: 'both subscriptions to have theirs' });
      expect(of(live)).toEqual(ids.slice(30));
      expect(of(resumed)).toEqual(ids);
      expect(tail.reads).toBeGreaterThan(readsBefore);
    } finally {
      client.close();
    }
  });
});
