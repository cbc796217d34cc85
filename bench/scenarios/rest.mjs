// REST: POST /invoices/:id/items with autocannon, 50 connections, spread over 100 invoices.
import autocannon from 'autocannon';
import { startApp } from '../lib/app.mjs';
import { freshDatabase, query } from '../lib/postgres.mjs';

export async function rest(postgres, { seconds, connections = 50 }) {
  const db = await freshDatabase(postgres, 'rest');
  const app = await startApp(db.url);
  try {
    const ids = (await query(db.url, `INSERT INTO invoices (invoice_no) SELECT 'REST-' || g FROM generate_series(1, 100) g RETURNING id`)).map((row) => row.id);
    let next = 0;
    const result = await autocannon({
      url: app.base,
      connections,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ quantity: 2, amountPerUnit: 150 }),
          setupRequest: (request) => ({ ...request, path: `/invoices/${ids[next++ % ids.length]}/items` }),
        },
      ],
    });
    return {
      connections,
      seconds,
      requestsPerSecond: Math.round(result.requests.average),
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors,
      peakRssMb: app.peakRssMb(),
    };
  } finally {
    await app.stop();
    await db.drop();
  }
}
