// Catch-up: one client resuming far behind (`since`) receives the stored notifications it missed,
// then goes live: notifications per second until it has them all.
import { performance } from 'node:perf_hooks';
import { startApp } from '../lib/app.mjs';
import { connectClients } from '../lib/clients.mjs';
import { until } from '../lib/load.mjs';
import { freshDatabase, query } from '../lib/postgres.mjs';
import { cpuMeter } from '../lib/usage.mjs';

export async function catchup(postgres, { behind }) {
  const db = await freshDatabase(postgres, 'catchup');
  const app = await startApp(db.url);
  // Notifications in the log, counted from its batches (the view builds every payload it reads).
  const count = async () => Number((await query(db.url, 'SELECT coalesce(sum(cardinality(change_ids)), 0) AS n FROM notification_batches'))[0].n);
  try {
    // History: transactions of 10,000 rows, drained by the app into the log.
    for (let done = 0; done < behind; done += 10_000) {
      await query(db.url, `INSERT INTO invoices (invoice_no) SELECT 'CU-' || g FROM generate_series($1::int, $2::int) g`, [done + 1, Math.min(behind, done + 10_000)]);
    }
    if (!(await until(async () => (await count()) >= behind, 300_000))) throw new Error('the history was not drained');
    let received = 0;
    let startedAt = 0;
    const group = await connectClients(app.base, 1, { request: null, onMessage: () => received++ });
    const cpu = cpuMeter(app, [], { postgres });
    startedAt = performance.now();
    const ack = await group.sockets[0].emitWithAck('subscribe', { since: '0' });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    await until(() => received >= behind, 300_000);
    const seconds = (performance.now() - startedAt) / 1000;
    // CPU s/s while it caught up: the app and PostgreSQL share the server's core.
    const shares = cpu();
    group.close();
    return { behind, received, seconds, perSecond: Math.round(received / seconds), cpu: { app: shares.app, postgres: shares.postgres, client: shares.bench } };
  } finally {
    await app.stop();
    await db.drop();
  }
}
