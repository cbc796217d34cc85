// Scale (issue 22): one log filled to each size in turn (200,000 then 2,000,000 notifications by
// default; BENCH_SCALE_SIZES=200000,2000000,5000000 for a longer run), and at each size what a
// reader or operator pays: bytes per notification, /health, the first page of GET /notifications
// for each kind of read, a catch-up, PostgreSQL CPU per tailing instance, a backlog's drain and
// retention. Everything the log's size could make grow, side by side across sizes.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startApp } from '../lib/app.mjs';
import { connectClients, now } from '../lib/clients.mjs';
import { until, writeAtRate } from '../lib/load.mjs';
import { CHUNK, createSparseTable, logFiller, logReader, MIX, SPARSE_TABLE } from '../lib/notification-log.mjs';
import { freshDatabase } from '../lib/postgres.mjs';
import { percentile, round1 } from '../lib/stats.mjs';
import { tailingInstances } from '../lib/tailing.mjs';

/** Journal rows the fill lets wait for the drainer at most: the fill measures a drained log, not a backlog. */
const MAX_UNDRAINED = 100_000;
/** The log's storage: the journal (each notification's one stored copy), the batches, and the index if this branch has one. */
const LOG_RELATIONS = ['capture.changes', 'notification_batches', 'notification_index'];

export async function scale(postgres, options) {
  const { sizes } = options;
  if (!sizes.length || sizes.some((size, i) => !Number.isSafeInteger(size) || size <= 0 || size <= (sizes[i - 1] ?? 0))) {
    throw new Error(`scale: sizes must be increasing positive integers (BENCH_SCALE_SIZES=200000,2000000), not ${sizes.join(',')}`);
  }
  const db = await freshDatabase(postgres, 'scale');
  await createSparseTable(db.url);
  // One connection for the scenario's own looks at the log (cheap index probes), one that fills it.
  const look = new pg.Client({ connectionString: db.url });
  await look.connect();
  const sql = async (text, values) => (await look.query(text, values)).rows;
  const filler = await logFiller(db.url);
  const log = logReader(sql);
  // The app that drains and serves; stopped for the backlog, restarted for retention.
  const server = {
    app: await startApp(db.url),
    async stop() {
      await this.app?.stop();
      this.app = undefined;
    },
    async start() {
      this.app = await startApp(db.url);
      return this.app;
    },
  };
  const atSize = [];
  try {
    for (const size of sizes) {
      const parts = {};
      const part = async (name, run) => {
        const started = performance.now();
        const result = await run();
        parts[name] = round1((performance.now() - started) / 1000);
        console.error(`  scale ${short(size)}: ${name} took ${parts[name]} s`);
        return result;
      };
      const fill = await part('fill', () => fillTo(size, filler, log));
      const rareId = await filler.touchRare();
      await log.drained(await log.journalHead());
      // The index follows the log in the background: what a reader meets once it has caught up.
      const indexLag = await part('index', () => log.indexed());
      const bytes = await part('bytes', () => logBytes(sql, log));
      const { first: _, ...health } = await part('health', () => timedCalls(() => get(server.app.base, '/health'), { calls: options.healthCalls }));
      const pages = await part('pages', () => firstPages(server.app.base, log, rareId, options));
      const catchup = await part('catch-up', () => catchUp(server.app, log, options.behind));
      const tailing = await part('tailing instances', () => tailingInstances(db.url, postgres, server.app, log, sql, options));
      const backlog = await part('backlog', () => drainBacklog(server, filler, log, options.backlog));
      const retention = await part('retention', () => retain(server, log, sql, db.url, options));
      atSize.push({ size, ...fill, indexLag, bytes, health, pages, catchup, tailing, backlog, retention, parts });
      console.error(`  scale ${short(size)}: ${JSON.stringify(summary(atSize.at(-1)))}`);
    }
  } finally {
    await server.stop();
    await filler.end();
    await look.end();
    await db.drop();
  }
  return { sizes, chunk: CHUNK, mix: MIX, rate: options.rate, atSize };
}

/**
 * Fill transactions until the log holds `size` notifications, the app draining them meanwhile (at
 * most MAX_UNDRAINED waiting: the fill measures a log drained as it grows, not one huge backlog);
 * the time from the first insert until the last is in the log.
 */
async function fillTo(size, filler, log) {
  const started = performance.now();
  const from = await log.present();
  let written = 0;
  let head = 0;
  while (from + written < size) {
    written += await filler.chunk();
    head = await log.journalHead();
    await log.drained(head - MAX_UNDRAINED);
  }
  if (head) await log.drained(head);
  const seconds = (performance.now() - started) / 1000;
  return { notifications: await log.present(), fill: { written, seconds: round1(seconds), perSecond: Math.round(written / seconds) } };
}

/** Bytes the log's relations take (tables, TOAST, indexes), and per notification. */
async function logBytes(sql, log) {
  const relations = await sql(
    `SELECT v.name, pg_relation_size(r.oid)::bigint AS heap, pg_indexes_size(r.oid)::bigint AS indexes,
            (pg_total_relation_size(r.oid) - pg_relation_size(r.oid) - pg_indexes_size(r.oid))::bigint AS toast,
            pg_total_relation_size(r.oid)::bigint AS total
     FROM unnest($1::text[]) v(name) CROSS JOIN LATERAL (SELECT to_regclass(v.name) AS oid) r WHERE r.oid IS NOT NULL`,
    [LOG_RELATIONS],
  );
  const notifications = await log.present();
  const total = relations.reduce((sum, r) => sum + Number(r.total), 0);
  return {
    notifications,
    perNotification: Math.round(total / notifications),
    relations: relations.map((r) => ({ name: r.name, heap: Number(r.heap), indexes: Number(r.indexes), toast: Number(r.toast), total: Number(r.total), perNotification: round1(Number(r.total) / notifications) })),
  };
}

async function get(base, path) {
  const response = await fetch(`${base}${path}`);
  return { status: response.status, body: await response.text() };
}

/**
 * Wall times (ms) of sequential calls: up to `calls` of them, fewer when they take longer than
 * `budgetMs` together (at least one). The first is a warm-up left out, unless it took over a
 * second: a call that long is what it measures, not a cold cache.
 */
async function timedCalls(call, { calls, budgetMs = 20_000 }) {
  const time = async () => {
    const started = performance.now();
    const result = await call();
    return { ms: performance.now() - started, result };
  };
  const first = await time();
  if (first.result.status !== 200) return { status: first.result.status, body: first.result.body.slice(0, 200) };
  const samples = first.ms > 1000 ? [first.ms] : [];
  const deadline = performance.now() + budgetMs;
  while (samples.length < calls && (samples.length === 0 || performance.now() < deadline)) {
    const { ms, result } = await time();
    if (result.status !== 200) throw new Error(`status ${result.status} in a series that began with 200: ${result.body.slice(0, 200)}`);
    samples.push(ms);
  }
  return { calls: samples.length, p50: round1(percentile(samples, 0.5)), p99: round1(percentile(samples, 0.99)), max: round1(Math.max(...samples)), first: first.result };
}

/**
 * The first page (100) of GET /notifications for each kind of read. A parameter this branch does
 * not have yet answers 400: recorded as such (the report prints n/a), not a failure.
 */
async function firstPages(base, log, rareId, { pageCalls, pageBudgetMs }) {
  const present = await log.present();
  const deep = (await log.purgedThrough()) + Math.floor(present * 0.05);
  const share = (n) => `${round1((100 * n) / CHUNK)} %`;
  const filters = [
    ['dense', `table=invoices`, share(MIX.loaderInvoices + MIX.aliceInvoices + MIX.itemInvoices)],
    ['sparse', `table=${SPARSE_TABLE}`, share(MIX.sparse)],
    ['rare', `entityId=${rareId}`, 'one row'],
    ['event', 'event=invoice_items.created', share(MIX.items)],
    ['actor', 'actor=alice', share(MIX.aliceInvoices)],
  ];
  const reads = [
    ['newest', 'tail=true', 'all'],
    ['deep cursor', `after=${deep}`, 'all'],
    ...filters.flatMap(([name, query, density]) => [
      [`${name}, after=0`, `${query}&after=0`, density],
      [`${name}, tail`, `${query}&tail=true`, density],
    ]),
  ];
  // The query as the report shows it: the same at every size.
  const label = (query) => query.replace(`after=${deep}`, 'after=<an id at 5 %>').replace(`entityId=${rareId}`, 'entityId=<one invoice>');
  const out = {};
  for (const [name, query, density] of reads) {
    const timed = await timedCalls(() => get(base, `/notifications?${query}`), { calls: pageCalls, budgetMs: pageBudgetMs });
    const { first, ...figures } = timed;
    out[name] = { query, label: label(query), density, ...figures, ...(first && { returned: JSON.parse(first.body).data.length }) };
    console.error(`    ${name} (${query}): ${timed.status ? `status ${timed.status}` : `p50 ${timed.p50} · p99 ${timed.p99} ms over ${timed.calls} calls, ${out[name].returned} returned`}`);
  }
  return out;
}

/** One Socket.IO client subscribing with `since` `behind` notifications before the end: notifications/s until it has them. */
async function catchUp(app, log, asked) {
  const behind = Math.min(asked, (await log.present()) - 1);
  const since = (await log.lastId()) - behind;
  let received = 0;
  const group = await connectClients(app.base, 1, { request: null, onMessage: () => received++ });
  try {
    const started = performance.now();
    const ack = await group.sockets[0].emitWithAck('subscribe', { since: String(since) });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    if (!(await until(() => received >= behind, 300_000))) throw new Error(`catch-up: ${received} of ${behind} after 300 s`);
    const seconds = (performance.now() - started) / 1000;
    return { behind, seconds: round1(seconds), perSecond: Math.round(received / seconds) };
  } finally {
    group.close();
  }
}

/**
 * `rows` journal rows written while the app is stopped (the same mix), then a fresh app drains
 * them: rows/s from the batches' own times (first to last drain transaction), and its peak RSS.
 */
async function drainBacklog(server, filler, log, rows) {
  await server.stop();
  const writeStarted = performance.now();
  let written = 0;
  while (written < rows) written += await filler.chunk();
  const writeSeconds = (performance.now() - writeStarted) / 1000;
  const head = await log.journalHead();
  const before = await log.lastId();
  const started = performance.now();
  const app = await server.start();
  await log.drained(head);
  const wallSeconds = (performance.now() - started) / 1000;
  const drained = await log.drainedAfter(before);
  return {
    rows: written,
    writtenWhileStoppedSeconds: round1(writeSeconds),
    batches: drained.batches,
    drainSeconds: round1(drained.seconds),
    perSecond: drained.perSecond,
    secondsFromStart: round1(wallSeconds),
    peakRssMb: Math.round(app.peakRssMb()),
  };
}

/**
 * Retention of the oldest `rows` notifications (their batches backdated past RETENTION_DAYS, then
 * the app restarted: its first purge runs 5 s after start) while a writer commits `rate` invoices a
 * second: rows/s deleted, from purged_through's moves (one per purge step), and the writer's commit
 * latency during the purge against the seconds after it.
 */
async function retain(server, log, sql, url, { retention: rows, rate, afterSeconds }) {
  const purgedFrom = await log.purgedThrough();
  const [due] = await sql(
    `WITH due AS (UPDATE notification_batches SET created_at = created_at - interval '400 days' WHERE last_id <= $1 RETURNING last_id)
     SELECT coalesce(max(last_id), 0)::bigint AS through FROM due`,
    [purgedFrom + rows],
  );
  const through = Number(due.through);
  await server.stop();
  const app = await server.start();
  const commits = [];
  const stop = new AbortController();
  const writer = writeAtRate(url, { rate, seconds: Infinity, prefix: `RET-${through}`, commits, signal: stop.signal });
  const moves = [];
  let seen = purgedFrom;
  let purged;
  let ended;
  try {
    purged = await until(async () => {
      const value = await log.purgedThrough();
      if (value !== seen) moves.push([now(), (seen = value)]);
      return value >= through;
    }, 300_000);
    ended = now();
    await sleep((afterSeconds + 1) * 1000);
  } finally {
    stop.abort();
    await writer;
  }
  if (!purged || moves.length < 2) throw new Error(`retention: purged through ${seen} of ${through} (${moves.length} steps seen)`);
  const [[firstAt, firstValue], [lastAt, lastValue]] = [moves[0], moves.at(-1)];
  const latency = (from, to) => {
    const samples = commits.filter(([sentAt]) => sentAt >= from && sentAt < to).map(([, ms]) => ms);
    return { writes: samples.length, p50: round1(percentile(samples, 0.5)), p99: round1(percentile(samples, 0.99)) };
  };
  await until(() => /retention deleted \d+ notifications/.test(app.log()), 10_000);
  // What autovacuum would do before long: the deleted rows' space free for the next fill, so the
  // next size's bytes per notification are a log that retention keeps, not one left with holes.
  const vacuumStarted = performance.now();
  const relations = (await sql('SELECT name FROM unnest($1::text[]) name WHERE to_regclass(name) IS NOT NULL', [LOG_RELATIONS])).map((r) => r.name);
  await sql(`VACUUM ${relations.join(', ')}`);
  const vacuumSeconds = round1((performance.now() - vacuumStarted) / 1000);
  const said = /retention deleted (\d+) notifications and (\d+) journal rows/.exec(app.log());
  return {
    asked: rows,
    deleted: through - purgedFrom,
    steps: moves.length,
    // Between the first step's commit and the last's: steps and the pauses the service takes between them.
    perSecond: Math.round((lastValue - firstValue) / ((lastAt - firstAt) / 1000)),
    seconds: round1((lastAt - firstAt) / 1000),
    appSaid: said ? { notifications: Number(said[1]), journalRows: Number(said[2]) } : null,
    vacuumSeconds,
    writersDuring: latency(firstAt, lastAt),
    // From a second after the last step, for afterSeconds: the same app and writer, nothing due.
    writersAfter: latency(ended + 1000, ended + 1000 + afterSeconds * 1000),
  };
}

const short = (n) => (n >= 1e6 ? `${round1(n / 1e6)}M` : n >= 1e3 ? `${round1(n / 1e3)}k` : String(n));

function summary(at) {
  return { size: at.size, fill: at.fill, bytes: at.bytes.perNotification, health: at.health.p50, catchup: at.catchup.perSecond };
}
