import type { Socket } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { storedNotification } from '../../test/support/notifications.js';
import { Delivery } from './delivery.js';
import { Subscription } from './subscription.js';

const notification = (id: number, table = 'invoices') =>
  storedNotification({ id: String(id), event: `${table}.created`, tableName: table, payload: { table } });

/** A socket as delivery uses it, recording the packets written to it and what it was sent. */
function fakeSocket(id: string, { failing = false } = {}) {
  const packets: string[] = [];
  const emitted: [string, unknown][] = [];
  let disconnected = false;
  const socket = {
    id,
    nsp: { name: '/events' },
    client: {
      _packet: (written: string[]) => {
        if (failing) throw new Error('write failed');
        packets.push(...written);
      },
    },
    conn: { writeBuffer: [] as unknown[] },
    emit: (event: string, data: unknown) => emitted.push([event, data]),
    disconnect: () => (disconnected = true),
  };
  return {
    socket: socket as unknown as Socket,
    /** The notification messages written, decoded as a Socket.IO client would. */
    messages: () => packets.map((packet) => JSON.parse(packet.slice(packet.indexOf(',') + 1))[1] as { id: string; subscriptionIds: string[] }),
    emitted,
    disconnected: () => disconnected,
  };
}

function setUp(stored: number) {
  const log = Array.from({ length: stored }, (_, i) => notification(i + 1, i % 2 ? 'invoice_items' : 'invoices'));
  const live = { lastId: BigInt(stored) };
  const sut = new Delivery(
    { readAfter: async (after, limit) => log.filter((n) => BigInt(n.id) > after).slice(0, limit), purgedThrough: async () => 0n, transactionOf: async () => undefined },
    live,
  );
  return { sut, live };
}

const subscription = (id: string, tables?: string[]) => new Subscription(id, { tables });

describe('Delivery', () => {
  it('sends nothing twice when the tail hands it the same batch again (after a throw elsewhere)', () => {
    const { sut, live } = setUp(0);
    const client = fakeSocket('a');
    sut.open(client.socket);
    sut.add(client.socket, subscription('s1'), undefined);
    const batch = [notification(1), notification(2)];
    live.lastId = 2n;
    sut.push(batch);
    sut.push(batch);
    expect(client.messages().map((m) => m.id)).toEqual(['1', '2']);
  });

  it('drops a client whose write fails, and the others get every notification', () => {
    const { sut, live } = setUp(0);
    const broken = fakeSocket('broken', { failing: true });
    const fine = fakeSocket('fine');
    for (const { socket } of [broken, fine]) {
      sut.open(socket);
      sut.add(socket, subscription(`s-${socket.id}`), undefined);
    }
    live.lastId = 3n;
    sut.push([notification(1), notification(2), notification(3)]);
    expect(fine.messages().map((m) => m.id)).toEqual(['1', '2', '3']);
    expect(broken.disconnected()).toBe(true);
    expect(sut.connectedClients).toBe(1);
  });

  it('names in one message every subscription of a connection that wants it, and only those', () => {
    const { sut, live } = setUp(0);
    const client = fakeSocket('a');
    sut.open(client.socket);
    sut.add(client.socket, subscription('all'), undefined);
    sut.add(client.socket, subscription('items', ['invoice_items']), undefined);
    live.lastId = 2n;
    sut.push([notification(1, 'invoices'), notification(2, 'invoice_items')]);
    expect(client.messages()).toEqual([
      expect.objectContaining({ id: '1', subscriptionIds: ['all'] }),
      expect.objectContaining({ id: '2', subscriptionIds: ['all', 'items'] }),
    ]);
  });

  it('replays a subscription from its own since while the others go on live, then hands it over', async () => {
    const { sut, live } = setUp(1200);
    const client = fakeSocket('a');
    sut.open(client.socket);
    sut.add(client.socket, subscription('live'), undefined);
    sut.add(client.socket, subscription('items', ['invoice_items']), 100n);
    live.lastId = 1201n;
    sut.push([notification(1201, 'invoices')]);
    await expect.poll(() => client.messages().filter((m) => m.subscriptionIds.includes('items')).length, { timeout: 5_000 }).toBe(550);
    const items = client.messages().filter((m) => m.subscriptionIds.includes('items')).map((m) => Number(m.id));
    expect(items).toEqual(Array.from({ length: 550 }, (_, i) => 102 + 2 * i));
    live.lastId = 1202n;
    sut.push([notification(1202, 'invoice_items')]);
    expect(client.messages().at(-1)).toEqual(expect.objectContaining({ id: '1202', subscriptionIds: ['live', 'items'] }));
    expect(client.messages().filter((m) => m.subscriptionIds.includes('live')).map((m) => m.id)).toEqual(['1201', '1202']);
  });

  it('checkpoints the subscriptions whose position moved past their last notification', () => {
    const { sut, live } = setUp(0);
    const client = fakeSocket('a');
    sut.open(client.socket);
    sut.add(client.socket, subscription('busy', ['invoices']), undefined);
    sut.add(client.socket, subscription('idle', ['orders']), undefined);
    live.lastId = 2n;
    sut.push([notification(1), notification(2)]);
    sut.checkpoint();
    sut.checkpoint();
    expect(client.emitted).toEqual([['checkpoint', { subscriptionIds: ['idle'], id: '2' }]]);
  });
});

describe('Delivery when a replay cannot go on', () => {
  it('ends only that subscription, telling the client why; the connection and the others go on', async () => {
    const log = Array.from({ length: 1200 }, (_, i) => notification(i + 1));
    let purged = 0n;
    const live = { lastId: 1200n };
    const sut = new Delivery(
      {
        readAfter: async (after, limit) => {
          const page = log.filter((n) => BigInt(n.id) > after).slice(0, limit);
          purged = 800n; // retention runs while the first page is read
          return page;
        },
        purgedThrough: async () => purged,
        transactionOf: async () => undefined,
      },
      live,
    );
    const client = fakeSocket('a');
    sut.open(client.socket);
    sut.add(client.socket, subscription('live'), undefined);
    sut.add(client.socket, subscription('old'), 0n);
    await expect.poll(() => client.emitted.length).toBe(1);
    expect(client.emitted[0]).toEqual(['subscription_ended', { subscriptionId: 'old', code: 'SINCE_EXPIRED', message: expect.stringContaining('retention') }]);
    expect(client.disconnected()).toBe(false);
    expect(sut.subscriptionCount(client.socket)).toBe(1);
    live.lastId = 1201n;
    sut.push([notification(1201)]);
    expect(client.messages().map((m) => [m.id, m.subscriptionIds])).toEqual([['1201', ['live']]]);
  });
});
