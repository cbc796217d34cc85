import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionsService } from '../../src/realtime/subscriptions.service.js';
import { createTestApp, TestApp } from '../../test/support/app.js';
import { waitFor } from '../../test/support/wait.js';
import { RowcastClient, RowcastError } from '../src/index.js';
import { ascending, closeFromServer, drained, logIds, record, trackConnections } from './support.js';

const ROUNDS = 67; // 30 notifications a round: 10 invoices created, 10 items created, 10 totals updated

/** One round of writes, two transactions, as any SQL client would make them. */
async function writeRound(t: TestApp, round: number): Promise<void> {
  await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'BURST-${round}-' || g FROM generate_series(1, 10) g`);
  await t.db.sql.query(
    `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit)
     SELECT id, 2, 150 FROM invoices WHERE invoice_no LIKE 'BURST-${round}-%'`,
  );
}

describe('RowcastClient while its connection is killed mid-stream', () => {
  let t: TestApp;
  let client: RowcastClient;
  let connections: ReturnType<typeof trackConnections>;
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    connections = trackConnections(t);
    client = new RowcastClient({ url: t.url });
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it('delivers ~2,000 notifications to each subscription once, ascending, equal to the log', async () => {
    const everything = record(client, {});
    const items = record(client, { events: ['invoice_items.*'] });
    await Promise.all([everything.live(), items.live()]);
    expect(t.app.get(SubscriptionsService).connectedClients).toBe(1); // one connection for both

    // Kill the connection six times while the burst flows, three ways: the network fails, the server
    // closes it on purpose (Socket.IO does not reconnect then), the shutdown notice. Writes go on
    // at once, so each time the client has missed some and resumes mid-stream.
    const kills = [
      () => connections.cut(),
      () => closeFromServer(t, 'SLOW_CONSUMER'),
      () => {
        const service = t.app.get(SubscriptionsService);
        const open = service.connectedClients;
        service.closeAll({ code: 'SERVER_SHUTTING_DOWN', message: 'closed by the test' });
        return open;
      },
    ];
    let late: ReturnType<typeof record> | undefined;
    let fromNow: ReturnType<typeof record> | undefined;
    let resumeAfter = '';
    for (let round = 0; round < ROUNDS; round++) {
      await writeRound(t, round);
      if (round === 20) {
        // Added mid-stream: one resuming from an earlier id (it needs a new connection), one from now on.
        resumeAfter = everything.ids()[99];
        late = record(client, { tables: ['public.invoices'] }, { since: resumeAfter });
        fromNow = record(client, { events: ['invoices.created'] });
      }
      if (round % 10 === 5) {
        await waitFor(() => everything.notifications.length >= (round - 2) * 30, { timeout: 30_000, what: `round ${round - 2}` });
        const kill = kills[((round - 5) / 10) % kills.length];
        // Right after a reconnection the new connection may not be there yet: kill it once it is.
        await waitFor(() => kill() > 0, { what: `a connection to kill after round ${round}` });
      }
    }

    const log = await drained(t.db.sql);
    expect(log.length).toBe(ROUNDS * 30);
    await waitFor(() => everything.notifications.length >= log.length, { timeout: 60_000, what: `all ${log.length} notifications` });
    expect(everything.ids()).toEqual(log);
    // Each subscription resumes on its own: one may still be replaying when another has caught up.
    const itemIds = await logIds(t.db.sql, `event LIKE 'invoice_items.%'`);
    await waitFor(() => items.notifications.length >= itemIds.length, { what: `all ${itemIds.length} item notifications` });
    expect(items.ids()).toEqual(itemIds);

    const invoices = await logIds(t.db.sql, `table_name = 'invoices' AND n.id > $1`, [resumeAfter]);
    await waitFor(() => late!.notifications.length >= invoices.length, { what: 'the late subscription to catch up' });
    expect(late!.ids()).toEqual(invoices);

    // From now on: whatever it starts with, nothing after that is missing, nothing twice.
    const created = await logIds(t.db.sql, `event = 'invoices.created' AND n.id >= $1`, [fromNow!.ids()[0]]);
    await waitFor(() => fromNow!.notifications.length >= created.length, { what: 'the from-now subscription to catch up' });
    expect(fromNow!.ids()).toEqual(created);
    expect(ascending(fromNow!.ids())).toBe(true);

    // Only the notices (told, not fatal); the client resumed by itself each time.
    await everything.live();
    for (const recorded of [everything, items]) {
      expect(recorded.errors.every((error) => error instanceof RowcastError && !error.fatal)).toBe(true);
      expect(recorded.errors.map((error) => (error as RowcastError).code)).toEqual(
        expect.arrayContaining(['SLOW_CONSUMER', 'SERVER_SHUTTING_DOWN']),
      );
      expect(recorded.statuses.filter((status) => status === 'connecting').length).toBeGreaterThanOrEqual(7);
      expect(recorded.subscription.closed).toBe(false);
    }
    expect(everything.subscription.lastId).toBe(log.at(-1));
  }, 120_000);

  it('closes its connection once its last subscription is closed', async () => {
    const service = t.app.get(SubscriptionsService);
    await waitFor(() => service.connectedClients === 1, { what: 'the client to be connected' });
    client.close();
    await waitFor(() => service.connectedClients === 0, { what: 'the connection to close' });
  });
});
