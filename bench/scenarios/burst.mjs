// Burst: one transaction of many rows; the time from its commit until every row is a
// notification, and the app's peak resident memory (a fresh app process, one client subscribed).
import { performance } from 'node:perf_hooks';
import { startApp } from '../lib/app.mjs';
import { connectClients } from '../lib/clients.mjs';
import { until } from '../lib/load.mjs';
import { freshDatabase, query } from '../lib/postgres.mjs';

export async function burst(postgres, { rows }) {
  const db = await freshDatabase(postgres, 'burst');
  const app = await startApp(db.url);
  let pushed = 0;
  const group = await connectClients(app.base, 1, { onMessage: () => pushed++ });
  // Notifications in the log, counted from its batches (the view builds every payload it reads).
  const count = async () => Number((await query(db.url, 'SELECT coalesce(sum(cardinality(change_ids)), 0) AS n FROM notification_batches'))[0].n);
  try {
    const rssBefore = app.peakRssMb();
    await query(db.url, `INSERT INTO invoices (invoice_no) SELECT 'BURST-' || g FROM generate_series(1, $1::int) g`, [rows]);
    const committed = performance.now();
    await until(async () => (await count()) >= rows, 600_000);
    const toLog = (performance.now() - committed) / 1000;
    await until(() => pushed >= rows, 120_000);
    const toClient = (performance.now() - committed) / 1000;
    return { rows, secondsToLog: toLog, secondsToClient: toClient, pushed, peakRssMb: app.peakRssMb(), rssBeforeMb: rssBefore };
  } finally {
    group.close();
    await app.stop();
    await db.drop();
  }
}
