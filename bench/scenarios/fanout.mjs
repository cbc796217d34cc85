// Fan-out: 1,000 clients subscribed to everything, 100 changes/s: messages delivered per second,
// commit → client p99, and how many were lost.
import { performance } from 'node:perf_hooks';
import { startApp } from '../lib/app.mjs';
import { connectClients, Ledger } from '../lib/clients.mjs';
import { until, writeAtRate } from '../lib/load.mjs';
import { freshDatabase } from '../lib/postgres.mjs';
import { percentile } from '../lib/stats.mjs';

export async function fanout(postgres, { seconds, clients = 1000, rate = 100 }) {
  const db = await freshDatabase(postgres, 'fanout');
  const app = await startApp(db.url);
  const ledger = new Ledger();
  let lastReceipt = 0;
  const group = await connectClients(app.base, clients, {
    request: { events: ['invoices.created'] },
    onMessage: (n) => {
      ledger.receipt(n.payload.new?.invoice_no);
      lastReceipt = performance.now();
    },
  });
  try {
    const started = performance.now();
    const written = await writeAtRate(db.url, { rate, seconds, ledger, prefix: 'FAN' });
    const expected = written * clients;
    await until(() => ledger.received >= expected, 30_000);
    const elapsed = (Math.max(lastReceipt, started + seconds * 1000) - started) / 1000;
    return {
      clients,
      rate,
      seconds,
      deliveredPerSecond: Math.round(ledger.received / elapsed),
      p50: percentile(ledger.latencies, 0.5),
      p99: percentile(ledger.latencies, 0.99),
      lost: expected - ledger.received,
      droppedSlow: group.notices.SLOW_CONSUMER ?? 0,
      disconnects: { ...group.disconnects },
      peakRssMb: app.peakRssMb(),
    };
  } finally {
    group.close();
    await app.stop();
    await db.drop();
  }
}
