import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { waitForNotifications } from '../support/notifications.js';
import { connectClient, TestClient } from '../support/socket.js';

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
