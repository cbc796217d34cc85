import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { RowcastClient, RowcastError, type SubscribeRequest } from '../src/index.js';
import { record } from './support.js';

/**
 * A service that speaks the protocol and ends subscriptions on cue (a real Socket.IO server; the
 * real service ends one only when retention overtakes its replay or the log cannot be read).
 */
describe('RowcastClient when the service ends one subscription', () => {
  let server: Server;
  let url: string;
  const requests: SubscribeRequest[] = [];
  let sockets: Socket[] = [];
  let next = 0;
  beforeAll(async () => {
    const http = createServer();
    server = new Server(http);
    server.of('/events').on('connection', (socket) => {
      sockets.push(socket);
      socket.on('subscribe', (request: SubscribeRequest, ack: (answer: unknown) => void) => {
        requests.push(request);
        if (request.tables?.[0] === 'limited' && requests.filter((r) => r.tables?.[0] === 'limited').length === 1) {
          return ack({ ok: false, error: { code: 'RATE_LIMITED', message: 'at most 600 messages a minute per API key; retry in 1 s' } });
        }
        ack({ ok: true, subscriptionId: `sub-${++next}`, cursor: request.since ?? '0' });
      });
      socket.on('unsubscribe', (_request: unknown, ack: (answer: unknown) => void) => ack({ ok: true }));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fails only the expired one, and resubscribes one whose replay could not read the log from where it was', async () => {
    sockets = [];
    const client = new RowcastClient({ url });
    try {
      const expired = record(client, { tables: ['invoices'] }, { since: '5' });
      const unavailable = record(client, { tables: ['invoice_items'] }, { since: '7' });
      const other = record(client, {});
      await waitFor(() => requests.length === 3 && other.statuses.at(-1) === 'live', { what: 'three subscribes' });
      const [socket] = sockets;
      const [first, second, third] = ['sub-1', 'sub-2', 'sub-3'];
      const note = (id: string, table: string, subscriptionIds: string[]) => ({
        subscriptionIds, id, event: `${table}.created`, createdAt: new Date(0).toISOString(),
        payload: { schema: 'public', table, op: 'INSERT', pk: { id }, new: { id }, old: null, changedColumns: null, actor: 'x', txId: '1', changedAt: new Date(0).toISOString() },
      });
      socket.emit('notification', note('8', 'invoice_items', [second, third]));
      socket.emit('subscription_ended', { subscriptionId: first, code: 'SINCE_EXPIRED', message: 'retention deleted what its replay had not sent' });
      socket.emit('subscription_ended', { subscriptionId: second, code: 'UNAVAILABLE', message: 'the replay could not read the log' });
      socket.emit('notification', note('11', 'invoices', [third]));

      await waitFor(() => expired.errors.length > 0, { what: 'the expiry' });
      expect(expired.errors).toEqual([expect.objectContaining({ code: 'SINCE_EXPIRED', fatal: true })]);
      expect(expired.errors[0]).toBeInstanceOf(RowcastError);
      expect(expired.subscription.closed).toBe(true);
      // Subscribed again on the same connection, from the last id it received.
      await waitFor(() => requests.length === 4, { what: 'the resubscribe' });
      expect(requests[3]).toEqual({ tables: ['invoice_items'], since: '8' });
      expect(unavailable.errors).toEqual([expect.objectContaining({ code: 'UNAVAILABLE', fatal: false })]);
      expect(unavailable.ids()).toEqual(['8']);
      expect(sockets).toHaveLength(1);
      await waitFor(() => other.notifications.length === 2, { what: 'the other subscription' });
      expect(other.ids()).toEqual(['8', '11']);
      expect(other.errors).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('tries a refused subscribe again alone, without dropping the connection or the others', async () => {
    sockets = [];
    requests.length = 0;
    const client = new RowcastClient({ url });
    try {
      const other = record(client, {});
      await other.live();
      const limited = record(client, { tables: ['limited'] });
      await limited.live();
      expect(limited.errors).toEqual([expect.objectContaining({ code: 'RATE_LIMITED', fatal: false })]);
      expect(requests.filter((r) => r.tables?.[0] === 'limited')).toHaveLength(2);
      expect(sockets).toHaveLength(1); // the same connection
      expect(other.statuses).toEqual(['connecting', 'live']);
    } finally {
      client.close();
    }
  });
});
