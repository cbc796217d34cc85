// What one request costs the server, for the pull consumers' requests beside a bare one (issue 20):
// `node bench/request-cost.mjs` (about 2 minutes; after `npm run build`). The app and its embedded
// PostgreSQL on the server's core, one client loop (fetch, one request at a time) on the clients'
// core, as `npm run bench` pins them. Each kind of request runs for WARM_S seconds unmeasured (the
// JIT), then MEASURE_S seconds: requests per second, and the app's and PostgreSQL's CPU per
// request (ms, from /proc: what the server's core spends on one, whatever waits in between).
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { apiOf } from './lib/api.mjs';
import { startApp } from './lib/app.mjs';
import { pinSelf } from './lib/cpus.mjs';
import { logReader } from './lib/notification-log.mjs';
import { freshDatabase, startPostgres } from './lib/postgres.mjs';
import { cpuMeter } from './lib/usage.mjs';

const WARM_S = 5;
const MEASURE_S = 10;
const KEYS = 1000;
const CHANGES_PER_KEY = 20;
const BULK = 250_000;

pinSelf();
const postgres = await startPostgres();
const db = await freshDatabase(postgres, 'request_cost');
const app = await startApp(db.url, { DB_POOL_SIZE: '32' });
const api = apiOf(app.base);
const sql = new pg.Client({ connectionString: db.url });
await sql.connect();

/** A loop of `step` (one request each), warmed then measured. */
async function measure(label, step) {
  const until = performance.now() + WARM_S * 1000;
  while (performance.now() < until) await step();
  const cpu = cpuMeter(app, [], { postgres });
  const started = performance.now();
  let requests = 0;
  while (performance.now() - started < MEASURE_S * 1000) {
    await step();
    requests++;
  }
  const wall = (performance.now() - started) / 1000;
  const used = cpu();
  const perRequest = (share) => ((share * wall * 1000) / requests).toFixed(2);
  console.log(`${label.padEnd(52)} ${String(Math.round(requests / wall)).padStart(5)}/s · ${((wall * 1000) / requests).toFixed(2)} ms each · CPU per request: app ${perRequest(used.app)} ms, PostgreSQL ${perRequest(used.postgres)} ms`);
}

/** receive {max} carrying the last answer's lease ids as acks: one request per `max` messages. */
function carriedLoop(name, max) {
  let ack;
  return async () => {
    const answer = await api('POST', `/consumers/${name}/receive`, { max, waitMs: 0, ...(ack && { ack }) });
    if (!answer.messages.length) throw new Error(`group ${name} ran out of messages: make it larger`);
    ack = answer.messages.map((message) => message.leaseId);
  };
}

try {
  await api('POST', '/consumers', { name: 'nothing', events: ['invoices.deleted'], from: 'now' });
  await api('POST', '/consumers', { name: 'keyed', tables: ['invoices'], order: 'key', from: 'now', ackWaitMs: 60_000 });
  await sql.query(`INSERT INTO invoices (invoice_no) SELECT 'KEY-' || g FROM generate_series(1, $1::int) g`, [KEYS]);
  for (let pass = 1; pass < CHANGES_PER_KEY; pass++) await sql.query(`UPDATE invoices SET invoice_no = invoice_no || '.' WHERE invoice_no LIKE 'KEY-%'`);
  await api('POST', '/consumers', { name: 'bulk', tables: ['invoices'], order: 'none', from: 'now', ackWaitMs: 60_000 });
  await sql.query(`INSERT INTO invoices (invoice_no) SELECT 'BULK-' || g FROM generate_series(1, $1::int) g`, [BULK]);
  const log = logReader(async (text, values) => (await sql.query(text, values)).rows);
  await log.drained(await log.journalHead());
  await log.indexed();

  await measure('GET /health', () => api('GET', '/health'));
  await measure('receive, nothing there', () => api('POST', '/consumers/nothing/receive', { max: 1, waitMs: 0 }));
  await measure('ack of 1 unknown lease', () => api('POST', '/consumers/keyed/ack', { leaseIds: ['00000000-0000-4000-8000-000000000000'] }));
  await measure(`receive 1 + its ack carried, order key (${KEYS} rows)`, carriedLoop('keyed', 1));
  await measure('receive 100 + their acks carried, order none', carriedLoop('bulk', 100));
} finally {
  await sql.end();
  await app.stop();
  await db.drop();
  await postgres.stop();
}
