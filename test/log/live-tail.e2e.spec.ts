import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoredNotification } from '../../src/events/event-catalog.js';
import { LiveTail } from '../../src/log/live-tail.js';
import { createTestApp, TestApp } from '../support/app.js';
import { notifications, waitForNotifications } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

/** The live tail on the whole app, the drainer handing it real batches. */
describe('LiveTail', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('brings a listener that threw back in step from the log: its ids stay ascending, each once, without a gap', async () => {
    const tail = t.app.get(LiveTail);
    await tail.ready;
    const from = tail.lastId;
    const got: string[] = [];
    let threw = 0;
    const remove = tail.listen('flaky', (batch: readonly StoredNotification[]) => {
      if (threw === 0) {
        threw++;
        throw new Error('the first push fails');
      }
      got.push(...batch.map((notification) => notification.id));
    });
    try {
      // Several transactions, so the drainer hands over several batches while the listener is behind.
      for (let i = 1; i <= 6; i++) {
        await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'TAIL-${i}-' || g FROM generate_series(1, 5) g`);
      }
      const logged = await waitForNotifications(t.db.sql, 30, { where: 'id > $1', values: [from.toString()] });
      await waitFor(() => got.length >= logged.length, { what: 'the listener to catch up' });

      expect(threw).toBe(1);
      expect(got).toEqual(logged.map((row) => row.id));
      expect(got.map(Number)).toEqual(Array.from({ length: got.length }, (_, i) => Number(from) + 1 + i));
      // And it is in step again: the next batch comes to it live.
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('TAIL-after')`);
      const last = got[got.length - 1];
      const after = await waitFor(async () => (await notifications(t.db.sql, 'n.id > $1', [last]))[0], { what: 'the next notification in the log' });
      await waitFor(() => got.includes(after.id), { what: 'the next notification' });
      expect(got).toHaveLength(logged.length + 1);
    } finally {
      remove();
    }
  });
});
