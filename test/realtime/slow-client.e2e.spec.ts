import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionsService } from '../../src/realtime/subscriptions.service.js';
import { createTestApp, TestApp } from '../support/app.js';
import { connectClient, TestClient } from '../support/socket.js';
import { waitFor } from '../support/wait.js';

type Raw = { pause(): void; resume(): void };

/** The raw TCP socket under a socket.io-client websocket (gone once closed): pausing it stops reading. */
function rawSocket(client: TestClient): Raw {
  const engine = (client.socket.io as unknown as { engine?: { transport?: { ws?: { _socket?: Raw } | null } } }).engine;
  return engine?.transport?.ws?._socket ?? { pause: () => {}, resume: () => {} };
}

describe('a client that stops reading', () => {
  let t: TestApp;
  let fast: TestClient;
  let slow: TestClient;
  let slowRaw: Raw;
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    fast = await connectClient(t.url);
    slow = await connectClient(t.url);
    slowRaw = rawSocket(slow);
  });
  afterAll(async () => {
    fast.close();
    slowRaw.resume(); // lets its connection close instead of stalling the server's shutdown
    slow.close();
    await t.close();
  });

  it('is disconnected while 50,000 notifications flow, and the others receive everything', async () => {
    await fast.subscribe({ events: ['invoices.created'] });
    await slow.subscribe({ events: ['invoices.created'] });
    const service = t.app.get(SubscriptionsService);
    expect(service.connectedClients).toBe(2);
    slowRaw.pause();
    // In transactions of 5,000, each once the fast client has all but one transaction's worth:
    // it shares this process (and its CPU) with the server, so a single 50,000-row burst could leave
    // it behind by more than the server's limit on a busy machine, and drop it as slow too. The
    // paused client falls behind whatever the pace.
    for (let from = 1; from <= 50_000; from += 5_000) {
      await fast.waitFor(from - 1 - 5_000, 60_000);
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) SELECT 'SLOW-' || g FROM generate_series($1::int, $2::int) g`, [from, from + 4_999]);
    }
    await waitFor(() => service.connectedClients === 1, { timeout: 60_000, what: 'the slow client to be dropped' });
    const received = await fast.waitFor(50_000, 120_000);
    const ids = received.map((n) => BigInt(n.id));
    expect(new Set(ids).size).toBe(50_000);
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
  }, 180_000);
});

describe('a peer that stops answering', () => {
  it('is dropped by the heartbeat', async () => {
    const t = await createTestApp({ listen: true, env: { WS_PING_INTERVAL_MS: '200', WS_PING_TIMEOUT_MS: '300' } });
    const dead = await connectClient(t.url);
    const raw = rawSocket(dead);
    try {
      await dead.subscribe({});
      const service = t.app.get(SubscriptionsService);
      expect(service.connectedClients).toBe(1);
      raw.pause(); // reads no ping, so sends no pong
      await waitFor(() => service.connectedClients === 0, { timeout: 10_000, what: 'the heartbeat to drop the peer' });
    } finally {
      raw.resume(); // lets the connection close instead of stalling the server's shutdown
      dead.close();
      await t.close();
    }
  });
});
