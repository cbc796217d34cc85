// Pull consumers (issue 20), over HTTP as a worker uses them:
// 1. Receive + ack throughput: a log prefilled with invoices' changes, then 1, 4 or 8 loops (one
//    process, the clients' core) each receive 100 and ack the 100 lease ids, order 'none' and
//    'key' (every row its own key), a fresh group from the log's start per run; the acks sent
//    alone (two requests per 100 messages) and carried by the next receive (one request); against
//    the same loops on a hand-written SKIP LOCKED queue table behind a bare HTTP server
//    (bench/queue.mjs), which takes carried acks too.
// 2. Long-poll wake-up: one receive waiting (waitMs 20 s), a writer commits one invoice; the time
//    from the commit's acknowledgement to the receive's answer, paced samples.
// 3. Key-ordered scaling: changes spread over 1,000 rows, each message 5 ms of "work" (a timer);
//    16 workers ÷ 1 worker, order 'key', each worker receive 1 → work → ack. The workers check
//    the order as they go: no two leases of one row at once, each row's changes in log order.
//    Then the same with the client library's worker (RowcastClient.consume, one process):
//    concurrency 16 ÷ concurrency 1, its acks batched.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { RowcastClient } from '../../client/dist/index.js';
import { call } from '../lib/api.mjs';
import { startApp, startQueue } from '../lib/app.mjs';
import { until } from '../lib/load.mjs';
import { logReader } from '../lib/notification-log.mjs';
import { freshDatabase } from '../lib/postgres.mjs';
import { median, percentile, round1, spread } from '../lib/stats.mjs';
import { cpuMeter } from '../lib/usage.mjs';

const CHUNK = 10_000;
const ORDERS = ['none', 'key'];
/** Acks sent alone (`ack`, two requests per 100 messages) or carried by the next receive (one). */
const MODES = [
  { suffix: '', carried: false },
  { suffix: '+carried', carried: true },
];

export async function consumers(postgres, options) {
  const db = await freshDatabase(postgres, 'consumers');
  // A receive holds a pooled connection for its group's lock and takes a second from the pool to
  // read the log: 16 workers receiving at once starve the default pool of 10 (each receive then
  // fails after the pool's 5 s connect timeout). A pool of 32 lets the scaling part measure order.
  const app = await startApp(db.url, { DB_POOL_SIZE: String(options.poolSize) });
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const profile = options.profile && (await statementsOn(sql));
  try {
    await prefill(sql, options.prefill);
    const throughput = await receiveAckThroughput(app, db.url, sql, postgres, options, profile);
    const wake = await wakeUp(app, sql, options.wakeSamples);
    const scaling = await keyScaling(app, sql, postgres, options);
    return { prefill: options.prefill, ...throughput, wake, scaling };
  } catch (error) {
    // What the app said about it: an internal error's cause is only in its log.
    console.error(app.log().split('\n').filter((line) => /error|ERROR|Error/.test(line)).slice(-20).join('\n'));
    throw error;
  } finally {
    await sql.end();
    await app.stop();
    await db.drop();
  }
}

/**
 * `count` invoices inserted (transactions of 10,000 rows), drained by the app into the log and
 * indexed (LogIndexer works in the background: the runs should not share the core with it).
 */
async function prefill(sql, count) {
  const started = performance.now();
  for (let done = 0; done < count; done += CHUNK) {
    await sql.query(`INSERT INTO invoices (invoice_no) SELECT 'PF-' || g FROM generate_series($1::int, $2::int) g`, [done + 1, Math.min(count, done + CHUNK)]);
  }
  await settled(sql);
  console.error(`  consumers: ${count} changes in the log and indexed after ${round1((performance.now() - started) / 1000)} s`);
}

/** Until every journal row is in the log and the log's index has caught up. */
async function settled(sql) {
  const log = logReader(async (text, values) => (await sql.query(text, values)).rows);
  await log.drained(await log.journalHead());
  await log.indexed();
}

async function receiveAckThroughput(app, url, sql, postgres, { clients, seconds, rounds, prefill: size }, profile) {
  const runs = {};
  const record = (key, result) => (runs[key] ??= []).push(result);
  let group = 0;
  let statements;
  for (let round = 0; round < rounds; round++) {
    for (const loops of clients) {
      for (const order of ORDERS) {
        for (const { suffix, carried } of MODES) {
          const name = `tp-${order}-${loops}-${++group}`;
          await call(app.base, 'POST', '/consumers', { name, tables: ['invoices'], order, from: 'start', ackWaitMs: 60_000, maxAckPending: 1000 });
          if (profile) await resetStatements(sql);
          const cpu = cpuMeter(app, [], { postgres });
          const result = await receiveLoops(app.base, name, loops, seconds, { carried });
          record(`${order}@${loops}${suffix}`, { ...result, cpu: cpu() });
          if (profile && round === 0 && loops === Math.max(...clients)) (statements ??= {})[`${order}${suffix}`] = await topStatements(sql);
          await call(app.base, 'DELETE', `/consumers/${name}`);
        }
      }
    }
  }
  const queue = await queueBaseline(url, sql, postgres, { clients, seconds, rounds, size, template: await aNotification(app.base) });
  const summarize = (list) => ({
    perSecond: spread(list.map((run) => run.perSecond)),
    cpu: { app: median(list.map((run) => run.cpu.app)), appWaitingForCpu: median(list.map((run) => run.cpu.appWaitingForCpu)), postgres: median(list.map((run) => run.cpu.postgres)), clients: median(list.map((run) => run.cpu.bench)) },
    runs: list,
  });
  return {
    throughput: Object.fromEntries(Object.entries(runs).map(([key, list]) => [key, summarize(list)])),
    queue: Object.fromEntries(Object.entries(queue).map(([key, list]) => [key, summarize(list)])),
    seconds,
    rounds,
    ...(statements && { statements }),
  };
}

/**
 * `loops` concurrent receive(100) → ack loops for `seconds` (or until the group has nothing left):
 * messages acknowledged per second. `carried`: each loop's acks ride on its next receive
 * (`receive {ack}`, as the client library's worker sends them), one request per 100 messages
 * instead of two; its last acks are sent alone.
 */
async function receiveLoops(base, name, loops, seconds, { carried = false } = {}) {
  let acked = 0;
  let unknown = 0;
  let requests = 0;
  const count = (settled) => {
    acked += settled.done.length;
    unknown += settled.unknown.length;
  };
  const waiting = Array.from({ length: loops }, () => []);
  const wall = await concurrently(loops, seconds, async (loop) => {
    const ack = carried && waiting[loop].length ? waiting[loop] : undefined;
    const answer = await call(base, 'POST', `/consumers/${name}/receive`, { max: 100, waitMs: 0, ...(ack && { ack }) });
    requests++;
    if (ack) count(answer.acked);
    waiting[loop] = [];
    const leaseIds = answer.messages.map((m) => m.leaseId);
    if (!leaseIds.length) return false;
    if (carried) waiting[loop] = leaseIds;
    else count(await call(base, 'POST', `/consumers/${name}/ack`, { leaseIds }));
    return true;
  });
  for (const leaseIds of waiting) if (leaseIds.length) count(await call(base, 'POST', `/consumers/${name}/ack`, { leaseIds }));
  return { acked, unknown, seconds: round1(wall), receives: requests, perSecond: Math.round(acked / wall) };
}

/** The same loops against bench/queue.mjs, its table filled anew before each run with `size` copies of a rowcast notification. */
async function queueBaseline(url, sql, postgres, { clients, seconds, rounds, size, template }) {
  await sql.query(`CREATE TABLE bench_queue (id bigserial PRIMARY KEY, body jsonb NOT NULL, deliveries int NOT NULL DEFAULT 0, lease_id uuid UNIQUE, leased_until timestamptz)`);
  const queue = await startQueue(url);
  const runs = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const loops of clients) {
        for (const { suffix, carried } of MODES) {
          await sql.query('TRUNCATE bench_queue');
          await sql.query(`INSERT INTO bench_queue (body) SELECT $1::jsonb FROM generate_series(1, $2::int)`, [template, size]);
          await sql.query('VACUUM ANALYZE bench_queue');
          const cpu = cpuMeter(queue, [], { postgres });
          const result = await receiveLoops(queue.base, 'queue', loops, seconds, { carried });
          (runs[`queue@${loops}${suffix}`] ??= []).push({ ...result, cpu: cpu() });
        }
      }
    }
  } finally {
    await queue.stop();
    await sql.query('DROP TABLE bench_queue');
  }
  return runs;
}

/** One notification as receive gives it, for the queue's rows: the same bytes on the wire. */
async function aNotification(base) {
  await call(base, 'POST', '/consumers', { name: 'template', tables: ['invoices'], from: 'start' });
  const { messages } = await call(base, 'POST', '/consumers/template/receive', { max: 1 });
  await call(base, 'DELETE', '/consumers/template');
  return JSON.stringify(messages[0].notification);
}

/**
 * `samples` times: a receive waits (waitMs 20 s, nothing available), an invoice is inserted and
 * committed, and the time from the commit's acknowledgement to the receive's answer is taken;
 * paced, so that each receive is parked before the commit and PostgreSQL is idle between.
 */
async function wakeUp(app, sql, samples) {
  await call(app.base, 'POST', '/consumers', { name: 'wake', tables: ['invoices'], order: 'none', from: 'now' });
  const ms = [];
  // Commit → the notification's batch (its created_at: the drainer's transaction start), wall clock, ms resolution.
  const toLog = [];
  let early = 0;
  // A receive that finds nothing and answers at once: what one look costs, the floor of a wake-up.
  const looks = [];
  for (let i = 0; i < samples; i++) {
    const asked = performance.now();
    await call(app.base, 'POST', '/consumers/wake/receive', { max: 10, waitMs: 0 });
    looks.push(performance.now() - asked);
    const waiting = call(app.base, 'POST', '/consumers/wake/receive', { max: 10, waitMs: 20_000 }).then((body) => ({ body, at: performance.now() }));
    await sleep(30); // the receive looks once, finds nothing and waits
    await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`WAKE-${i}`]);
    const committed = performance.now();
    const committedWall = performance.timeOrigin + committed;
    const { body, at } = await waiting;
    if (at < committed) early++;
    ms.push(Math.max(0, at - committed));
    toLog.push(Date.parse(body.messages[0]?.notification.createdAt) - committedWall);
    if (body.messages.length !== 1) throw new Error(`consumers: a wake-up receive got ${body.messages.length} messages`);
    await call(app.base, 'POST', '/consumers/wake/ack', { leaseIds: body.messages.map((m) => m.leaseId) });
    await sleep(20);
  }
  await call(app.base, 'DELETE', '/consumers/wake');
  return {
    samples,
    p50: round1(percentile(ms, 0.5)),
    p90: round1(percentile(ms, 0.9)),
    p99: round1(percentile(ms, 0.99)),
    max: round1(Math.max(...ms)),
    early,
    commitToBatch: { p50: round1(percentile(toLog, 0.5)), p99: round1(percentile(toLog, 0.99)) },
    emptyLook: { p50: round1(percentile(looks, 0.5)), p99: round1(percentile(looks, 0.99)) },
  };
}

/**
 * 1,000 rows, each changed `changesPerKey` times (one transaction per pass over the rows, so the
 * log spreads each row's changes); per round, a group of 1 worker and one of 16 (both from before
 * the changes), each worker receive 1 → `workMs` timer → ack, for `scalingSeconds`.
 */
async function keyScaling(app, sql, postgres, { keys, changesPerKey, workers, workMs, scalingSeconds, rounds }) {
  const names = [];
  for (let round = 0; round < rounds; round++) {
    for (const count of workers) {
      for (const kind of ['loops', 'library']) {
        const name = `keys-${kind}-${count}-${round}`;
        await call(app.base, 'POST', '/consumers', { name, tables: ['invoices'], order: 'key', from: 'now', ackWaitMs: 60_000 });
        names.push({ name, count, round, kind });
      }
    }
  }
  const before = await call(app.base, 'GET', `/consumers/${names[0].name}`);
  await sql.query(`INSERT INTO invoices (invoice_no) SELECT 'KEY-' || g FROM generate_series(1, $1::int) g`, [keys]);
  for (let pass = 1; pass < changesPerKey; pass++) await sql.query(`UPDATE invoices SET invoice_no = invoice_no || '.' WHERE invoice_no LIKE 'KEY-%'`);
  const total = keys * changesPerKey;
  const logged = async () => (await call(app.base, 'GET', `/consumers/${names[0].name}`)).lag.ids >= total;
  if (!(await until(logged, 120_000))) throw new Error(`consumers: the ${total} key changes were not in the log (from ${before.position})`);
  await settled(sql);
  const runs = {};
  const library = {};
  for (const { name, count, kind } of names) {
    const cpu = cpuMeter(app, [], { postgres });
    const result = kind === 'loops' ? await keyWorkers(app.base, name, count, workMs, scalingSeconds) : await libraryWorkers(app.base, name, count, workMs, scalingSeconds);
    ((kind === 'loops' ? runs : library)[`workers@${count}`] ??= []).push({ ...result, cpu: cpu() });
    await call(app.base, 'DELETE', `/consumers/${name}`);
  }
  const [one, many] = [Math.min(...workers), Math.max(...workers)];
  const summary = (byCount) => ({
    perSecond: Object.fromEntries(workers.map((count) => [count, spread(byCount[`workers@${count}`].map((run) => run.perSecond))])),
    ratio: { workers: [many, one], ...spread(byCount[`workers@${many}`].map((run, i) => Math.round((run.perSecond / byCount[`workers@${one}`][i].perSecond) * 100) / 100)) },
    // The server's core while the most workers ran (medians of rounds): app + PostgreSQL near 1.0 is a full core.
    cpu: Object.fromEntries(['app', 'appWaitingForCpu', 'postgres', 'bench'].map((key) => [key, median(byCount[`workers@${many}`].map((run) => run.cpu[key]))])),
  });
  return {
    keys,
    messages: total,
    workMs,
    seconds: scalingSeconds,
    ...summary(runs),
    runs,
    library: { ...summary(library), runs: library },
  };
}

/** `count` workers, each receive 1 → work → ack, for `seconds`: messages per second, and any break of per-key order seen. */
async function keyWorkers(base, name, count, workMs, seconds) {
  const order = keyOrder();
  let acked = 0;
  let receiveMs = 0;
  let receives = 0;
  const wall = await concurrently(count, seconds, async () => {
    const asked = performance.now();
    const { messages } = await call(base, 'POST', `/consumers/${name}/receive`, { max: 1, waitMs: 1000 });
    receiveMs += performance.now() - asked;
    receives++;
    for (const { notification } of messages) order.take(notification);
    await sleep(workMs);
    for (const { notification } of messages) order.release(notification);
    if (messages.length) {
      // Awaited first, then added: `acked += (await …)` reads acked before the await, and the 16
      // loops then overwrite each other's counts.
      const { done } = await call(base, 'POST', `/consumers/${name}/ack`, { leaseIds: messages.map((m) => m.leaseId) });
      acked += done.length;
    }
    return true;
  });
  return { workers: count, acked, seconds: round1(wall), perSecond: Math.round(acked / wall), receiveMsMean: round1(receiveMs / receives), overlaps: order.overlaps, outOfOrder: order.outOfOrder };
}

/** Per-key order as workers see it: a row taken while another worker holds it (overlaps), or not after its last id (out of order). */
function keyOrder() {
  const holding = new Set();
  const lastId = new Map();
  const order = {
    overlaps: 0,
    outOfOrder: 0,
    take(notification) {
      const key = JSON.stringify(notification.payload.pk);
      if (holding.has(key)) order.overlaps++;
      holding.add(key);
      if (BigInt(notification.id) <= (lastId.get(key) ?? 0n)) order.outOfOrder++;
      lastId.set(key, BigInt(notification.id));
    },
    release(notification) {
      holding.delete(JSON.stringify(notification.payload.pk));
    },
  };
  return order;
}

/**
 * The client library's worker, one process: `client.consume(name, handler, {concurrency: count})`,
 * the handler a `workMs` timer, for `seconds`: messages handled per second (acknowledged, the
 * library's acks batched), and any break of per-key order seen. Requests counted by the client.
 */
async function libraryWorkers(base, name, count, workMs, seconds) {
  const order = keyOrder();
  let handled = 0;
  let requests = 0;
  const counting = (input, init) => {
    requests++;
    return fetch(input, init);
  };
  const errors = [];
  const client = new RowcastClient({ url: base, fetch: counting });
  const started = performance.now();
  const worker = client.consume(
    name,
    async (notification) => {
      order.take(notification);
      await sleep(workMs);
      order.release(notification);
      handled++;
    },
    { concurrency: count, waitMs: 1000, onError: (error) => errors.push(error) },
  );
  await sleep(seconds * 1000);
  const counted = handled;
  const wall = (performance.now() - started) / 1000;
  await worker.stop();
  client.close();
  if (errors.length) throw new Error(`consumers: the library's worker reported ${errors.length} errors, the first: ${errors[0]}`);
  return { workers: count, handled: counted, seconds: round1(wall), perSecond: Math.round(counted / wall), requestsPerMessage: Math.round((requests / Math.max(1, handled)) * 100) / 100, overlaps: order.overlaps, outOfOrder: order.outOfOrder };
}

/** `count` loops of `step` side by side for `seconds`, a loop ending early when its step returns false; the wall seconds they took. */
async function concurrently(count, seconds, step) {
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: count }, async (_, loop) => {
      while (performance.now() < end && (await step(loop)));
    }),
  );
  return (performance.now() - started) / 1000;
}


/** Whether pg_stat_statements is loaded (`--profile`). */
async function statementsOn(sql) {
  try {
    await sql.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await resetStatements(sql);
    return true;
  } catch {
    return false;
  }
}

async function resetStatements(sql) {
  await sql.query('SELECT pg_stat_statements_reset()');
}

/** The statements of the last run by total execution time (top-level and nested). */
async function topStatements(sql) {
  const { rows } = await sql.query(
    `SELECT round(total_exec_time::numeric, 1)::float AS total_ms, calls::int, round((total_exec_time / calls)::numeric, 3)::float AS mean_ms, rows::int,
            shared_blks_hit::int AS hit, shared_blks_read::int AS read, toplevel, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT 12`,
  );
  return rows;
}
