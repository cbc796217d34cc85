// Sinks (issue 11): the app as its own process on the server's core, every receiver in this
// process on the clients' core (../lib/receiver.mjs, ../lib/brokers.mjs; the RabbitMQ and NATS
// servers are the machine's, unpinned). On one database, one app:
//   webhook latency · commit → receiver at a fixed rate (the writer and Ledger of the latency scenario)
//   webhook throughput · N changes in transactions of 1,000 to one webhook: deliveries/s at the
//     receiver, first to last, and whether they came in log order, none missing, none twice
//   rabbitmq, nats · a backlog already in the log, one sink created `from` before it: messages/s
//     into the broker with confirms, counted by the broker
// then on a fresh database, another app: write throughput of 8 writers with the app draining and
// no sinks, against the same with three sinks that match everything, in alternating rounds.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp, warningsOf } from '../lib/app.mjs';
import { natsStream, NATS_URL, rabbitQueue, RABBITMQ_URL } from '../lib/brokers.mjs';
import { Ledger, now } from '../lib/clients.mjs';
import { until, writeAtRate } from '../lib/load.mjs';
import { freshDatabase, query } from '../lib/postgres.mjs';
import { checkSequence, startReceiver } from '../lib/receiver.mjs';
import { pinnedCommand } from '../lib/cpus.mjs';
import { cpuMeter } from '../lib/usage.mjs';
import { percentile, round1, spread } from '../lib/stats.mjs';
import { driverName, writeTps } from '../lib/writers.mjs';

/** The receiver is on loopback: the app refuses private addresses unless told otherwise. */
const APP_ENV = { WEBHOOK_ALLOW_PRIVATE: 'true' };
/** The brokers' server processes, for their CPU use (../lib/brokers.mjs: not started by the benchmark). */
const BROKERS = ['beam.smp', 'nats-server'];
/** Names of this run's exchanges, queues, streams and subjects, so that they never meet another's. */
const RUN = `rowcast-bench-${process.pid}`;
const ROOT = path.resolve(import.meta.dirname, '../..');

export async function sinks(postgres, { latencySeconds, rate = 200, changes, behind, writerSeconds, rounds }) {
  const receiver = await startReceiver();
  try {
    const deliveries = await deliveryRuns(postgres, receiver, { latencySeconds, rate, changes, behind, rounds });
    const writers = await writersWithSinks(postgres, receiver, { seconds: writerSeconds, rounds });
    return { ...deliveries, writers, appWarnings: [...deliveries.appWarnings, ...writers.appWarnings] };
  } finally {
    await receiver.close();
  }
}

/** Latency, throughput and the brokers' rates, one after the other, on one app. */
async function deliveryRuns(postgres, receiver, { latencySeconds, rate, changes, behind, rounds }) {
  const db = await freshDatabase(postgres, 'sinks');
  const app = await benchApp(db.url);
  try {
    const latency = await webhookLatency(app, db, receiver, { rate, seconds: latencySeconds });
    console.error(
      `  sinks webhook latency ${rate}/s: p50 ${round1(latency.p50)} ms, p99 ${round1(latency.p99)} ms, delivered ${latency.delivered}/${latency.written}`,
    );
    const throughput = await webhookThroughput(app, db, receiver, { changes });
    console.error(
      `  sinks webhook throughput: ${throughput.delivered}/${throughput.changes} in ${throughput.seconds.toFixed(2)} s = ${throughput.perSecond}/s, ` +
        `in order ${throughput.inOrder}, missing ${throughput.missing}, duplicates ${throughput.duplicates}`,
    );
    const brokers = await brokerRates(app, db, { behind, rounds });
    for (const [kind, result] of Object.entries(brokers)) {
      const line = result.skipped ?? `${result.perSecond}/s (median of ${result.rounds.join(', ')}), baseline ${result.baseline.perSecond}/s, ratio ${result.ratio.median.toFixed(2)}`;
      console.error(`  sinks ${kind}: ${line}`);
    }
    return { webhookLatency: latency, webhookThroughput: throughput, brokers, appWarnings: warningsOf(app) };
  } finally {
    await app.stop();
    await db.drop();
  }
}

/**
 * Commit → receiver for one webhook on invoices.created, a writer inserting at `rate` for
 * `seconds`, after one second at that rate that is not counted: a new sink's first deliveries pay
 * once for its start (the first connection, the first statements, code not yet optimised), and
 * over a short run those would be the whole 99th percentile. Their worst is kept (warmUpMax).
 */
async function webhookLatency(app, db, receiver, { rate, seconds }) {
  const hook = await app.create('/webhooks', { name: 'bench-latency', url: receiver.url, events: ['invoices.created'], from: 'now' });
  const measure = async (seconds, prefix) => {
    const ledger = new Ledger();
    // The body is the notification as REST returns it: its row says which write it was.
    receiver.reset((body) => ledger.receipt(JSON.parse(body).payload.new?.invoice_no));
    const written = await writeAtRate(db.url, { rate, seconds, ledger, prefix });
    await until(() => ledger.received >= written, 30_000);
    return { written, ledger };
  };
  try {
    const warmUp = await measure(1, 'WLW');
    const { written, ledger } = await measure(seconds, 'WL');
    return {
      rate,
      seconds,
      written,
      delivered: ledger.received,
      p50: percentile(ledger.latencies, 0.5),
      p99: percentile(ledger.latencies, 0.99),
      max: Math.max(...ledger.latencies),
      warmUpMax: Math.max(...warmUp.ledger.latencies),
      claimMs: hook.claimMs,
      sink: await app.health(hook),
    };
  } finally {
    await app.remove(hook);
  }
}

/**
 * `changes` invoices inserted in transactions of 1,000 right after one webhook matching everything
 * was created (from now): deliveries per second at the receiver from the first to the last, and
 * the ids that came against the log's.
 */
async function webhookThroughput(app, db, receiver, { changes }) {
  receiver.reset();
  const hook = await app.create('/webhooks', { name: 'bench-throughput', url: receiver.url, from: 'now' });
  const first = Number(hook.position) + 1;
  try {
    const meter = cpuMeter(app);
    await insertInvoices(db.url, 'WT', changes);
    const last = await logReaches(db.url, first - 1 + changes);
    const expected = last - first + 1;
    const { received } = receiver;
    const complete = await until(() => received.ids.length >= expected, 120_000);
    const cpu = meter();
    const seconds = (received.lastAt - received.firstAt) / 1000;
    return {
      changes: expected,
      delivered: received.ids.length,
      complete,
      seconds,
      // n deliveries span n - 1 intervals from the first to the last.
      perSecond: Math.round((received.ids.length - 1) / seconds),
      ...checkSequence(received.ids, first, last),
      cpu,
      claimMs: hook.claimMs,
      sink: await app.health(hook, last),
    };
  } finally {
    await app.remove(hook);
  }
}

/**
 * RabbitMQ's and NATS's rates, each against its baseline in the same run: `rounds` pairs, in
 * alternating order, of the sink (created `from` before a backlog of `behind` notifications, so
 * it starts with all of them) and the raw publisher (../lib/raw-publisher.mjs: the same library,
 * the same number of messages, one notification's body, 1,000 in flight, on the server's core).
 * Each into an exchange (with a bound queue) or stream of the run's own, deleted afterwards.
 */
async function brokerRates(app, db, { behind, rounds }) {
  const before = await logEnd(db.url);
  await insertInvoices(db.url, 'BR', behind);
  const end = await logReaches(db.url, before + behind);
  const [sample] = (await app.api('GET', `/notifications?after=${before}&limit=1`)).data;
  const body = JSON.stringify(sample);
  const stream = RUN.replaceAll('-', '_');
  const kinds = {
    rabbitmq: {
      sink: { kind: 'rabbitmq', name: 'bench-rabbitmq', rabbitmq: { url: RABBITMQ_URL, exchange: RUN } },
      open: () => rabbitQueue(RUN),
      raw: [RABBITMQ_URL, RUN],
    },
    nats: {
      sink: { kind: 'nats', name: 'bench-nats', nats: { servers: [NATS_URL], subjectPrefix: RUN, stream } },
      open: () => natsStream(stream),
      // The sink creates its stream; the raw publisher gets one made the same way.
      openForRaw: () => natsStream(stream, RUN),
      raw: [NATS_URL, RUN],
    },
  };
  const results = {};
  for (const [kind, { sink, open, openForRaw = open, raw }] of Object.entries(kinds)) {
    const runs = { sink: [], raw: [] };
    for (let round = 1; round <= rounds; round++) {
      const pair = [
        ['sink', () => brokerRate(app, open, () => app.create('/sinks', { ...sink, from: String(before) }).then((created) => ({ sink: created })), { kind, total: end - before, end })],
        ['raw', () => brokerRate(app, openForRaw, () => rawPublisher(kind, raw, end - before, body), { kind, total: end - before })],
      ];
      for (const [side, measure] of round % 2 ? pair : pair.reverse()) {
        const result = await measure();
        runs[side].push(result);
        if (result.skipped) break;
        console.error(`  sinks ${kind} ${side === 'raw' ? 'baseline' : 'sink'} round ${round}: ${result.stored}/${result.notifications} in ${result.seconds.toFixed(2)} s = ${result.perSecond}/s`);
      }
      if (runs.sink.at(-1)?.skipped || runs.raw.at(-1)?.skipped) break;
    }
    results[kind] = summarize(runs);
  }
  return results;
}

/** The sink's median round (with every round's rate and health), the baseline's, and their ratio per round. */
function summarize({ sink, raw }) {
  const skipped = [...sink, ...raw].find((run) => run.skipped);
  if (skipped) return skipped;
  const medianOf = (runs) => [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)];
  return {
    ...medianOf(sink),
    rounds: sink.map((run) => run.perSecond),
    sinks: sink.map((run) => run.sink),
    baseline: { ...medianOf(raw), rounds: raw.map((run) => run.perSecond) },
    ratio: spread(sink.map((run, i) => run.perSecond / raw[i].perSecond)),
  };
}

/** Starts the raw publisher on the server's core; resolves when it has published everything. */
function rawPublisher(kind, [url, target], count, body) {
  const [file, args] = pinnedCommand('server', process.execPath, ['bench/lib/raw-publisher.mjs', kind, url, target, String(count)]);
  const child = spawn(file, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(body);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const started = { failed: undefined };
  started.done = new Promise((resolve, reject) =>
    child.once('exit', (code) => {
      if (code === 0) return resolve(JSON.parse(output));
      started.failed = new Error(`raw publisher exited ${code}: ${output.slice(0, 500)}`);
      reject(started.failed);
    }),
  );
  started.done.catch(() => {}); // awaited after the broker's count, or noticed through `failed` meanwhile
  return started;
}

/**
 * Messages per second into the broker, as the broker counts them: from the first poll that sees
 * any to the one that sees them all (polled every 20 ms; the rate uses the counts each saw).
 * `start` sets the publishing off: it creates the sink (`{sink}`) or the raw publisher (`{done}`).
 */
async function brokerRate(app, open, start, { kind, total, end }) {
  let broker;
  try {
    broker = await open();
  } catch (error) {
    return { notifications: total, skipped: `not measured: ${kind} not reachable (${error.message})` };
  }
  let sink;
  try {
    const createdAt = now();
    const server = kind === 'nats' ? 'nats-server' : 'beam.smp';
    const meter = cpuMeter(app, [server]);
    const started = await start();
    sink = started.sink;
    let first;
    let last;
    const deadline = createdAt + 120_000;
    while (now() < deadline) {
      const count = await broker.count();
      const at = now();
      if (count > 0 && !first) first = { count, at };
      last = { count, at };
      if (count >= total || started.failed) break;
      await sleep(20);
    }
    let cpu = meter();
    // The baseline's CPU is its own process's (it reports it as it exits), in the app's place.
    if (started.done) cpu = { ...cpu, app: (await started.done).cpu, appWaitingForCpu: NaN };
    if (!first) return { notifications: total, skipped: `not measured: nothing reached ${kind} within 120 s`, sink: sink && (await app.health(sink)) };
    const seconds = (last.at - first.at) / 1000;
    return {
      notifications: total,
      stored: last.count,
      seconds,
      perSecond: Math.round((last.count - first.count) / seconds),
      secondsFromCreation: (last.at - createdAt) / 1000,
      cpu,
      ...(sink && { claimMs: sink.claimMs, sink: await app.health(sink, end) }),
    };
  } finally {
    // The sink first: deleted, it no longer declares what cleanup removes.
    if (sink) await app.remove(sink);
    await broker.cleanup();
  }
}

/**
 * Write throughput of 8 writers (../lib/writers.mjs), rounds alternating: the app draining and no
 * sink, then the app draining and three sinks matching everything (a webhook to the receiver, a
 * RabbitMQ exchange with a bound queue, a NATS stream), created from now before the writers start
 * and deleted after, whatever they had yet to deliver: each round starts from an empty backlog.
 */
async function writersWithSinks(postgres, receiver, { seconds, rounds }) {
  const db = await freshDatabase(postgres, 'sinkwrites');
  await query(db.url, `INSERT INTO invoices (invoice_no) SELECT 'BENCH-' || g FROM generate_series(1, 100) g`);
  const app = await benchApp(db.url);
  const stream = `${RUN.replaceAll('-', '_')}_writes`;
  const brokers = await Promise.all([rabbitQueue(`${RUN}-writes`), natsStream(stream)].map((opening) => opening.catch((error) => error)));
  const [rabbitmq, nats] = brokers.map((broker) => (broker instanceof Error ? undefined : broker));
  const tps = { none: [], three: [] };
  const cpu = { none: [], three: [] };
  const behind = [];
  const deliveredPerSecond = [];
  const health = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      await drained(db.url);
      // The brokers too: system services, unpinned, they take their share of either core.
      let meter = cpuMeter(app, BROKERS);
      tps.none.push(await writeTps(db.url, seconds));
      cpu.none.push(meter());

      await drained(db.url);
      receiver.reset();
      const created = await createThree(app, receiver, { rabbitmq, nats, stream });
      meter = cpuMeter(app, BROKERS);
      tps.three.push(await writeTps(db.url, seconds));
      cpu.three.push(meter());
      // Where each sink stood when the writers stopped: what it delivered, what it had yet to.
      // One statement, one snapshot: read apart, the drainer could move changes between the two.
      const written = Number((await query(db.url, `SELECT (SELECT coalesce(max(last_id), 0) FROM notification_batches) + capture.backlog() AS n`))[0].n);
      const positions = Object.fromEntries((await app.api('GET', '/sinks')).map((sink) => [sink.id, Number(sink.position)]));
      behind.push(Object.fromEntries(created.map((sink) => [sink.kind, written - positions[sink.id]])));
      const rateOf = (sink) => Math.round((positions[sink.id] - Number(sink.position)) / seconds);
      deliveredPerSecond.push(Object.fromEntries(created.map((sink) => [sink.kind, rateOf(sink)])));
      health.push(...(await Promise.all(created.map((sink) => app.health(sink)))));
      for (const sink of created) await app.remove(sink);
      await Promise.all([rabbitmq?.purge(), nats?.purge()]);
      console.error(
        `  sinks writers round ${round}: no sinks ${tps.none.at(-1)} tps, three sinks ${tps.three.at(-1)} tps; ` +
          `delivered/s ${JSON.stringify(deliveredPerSecond.at(-1))}, behind at the end ${JSON.stringify(behind.at(-1))}; ` +
          `CPU s/s no sinks ${JSON.stringify(cpu.none.at(-1))}, three ${JSON.stringify(cpu.three.at(-1))}`,
      );
    }
  } finally {
    await app.stop();
    await Promise.all([rabbitmq?.cleanup(), nats?.cleanup()]);
    await db.drop();
  }
  return {
    driver: driverName(),
    seconds,
    sinks: ['webhook', rabbitmq && 'rabbitmq', nats && 'nats'].filter(Boolean),
    missing: brokers.filter((broker) => broker instanceof Error).map((error) => error.message),
    tps: { none: spread(tps.none), three: spread(tps.three) },
    // Per round (rounds alternate), then the median: drift between rounds cancels out.
    ratio: spread(tps.three.map((value, i) => value / tps.none[i])),
    cpu,
    deliveredPerSecond,
    behind,
    health,
    appWarnings: warningsOf(app),
  };
}

/** The three sinks of a round, each matching everything, from now; brokers that are not there are left out. */
async function createThree(app, receiver, { rabbitmq, nats, stream }) {
  const created = [await app.create('/webhooks', { name: 'bench-writes-webhook', url: receiver.url, from: 'now' })];
  if (rabbitmq) {
    const settings = { url: RABBITMQ_URL, exchange: `${RUN}-writes` };
    created.push(await app.create('/sinks', { kind: 'rabbitmq', name: 'bench-writes-rabbitmq', rabbitmq: settings }));
  }
  if (nats) {
    const settings = { servers: [NATS_URL], subjectPrefix: `${RUN}.writes`, stream };
    created.push(await app.create('/sinks', { kind: 'nats', name: 'bench-writes-nats', nats: settings }));
  }
  return created;
}

/** The app with webhooks to loopback allowed, and a small client for its sink routes. */
async function benchApp(url) {
  const app = await startApp(url, APP_ENV);
  const api = async (method, path, body) => {
    const response = await fetch(`${app.base}${path}`, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body && JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json();
  };
  const metrics = async () => (await fetch(`${app.base}/metrics`)).text();
  const routeOf = (sink) => (sink.kind === 'webhook' ? `/webhooks/${sink.id}` : `/sinks/${sink.id}`);
  return Object.assign(app, {
    api,
    /**
     * Creates a sink and waits until the app delivers it (its runner shows in /metrics), so that
     * nothing measured waits for the claim; how long that took is kept.
     */
    async create(route, body) {
      const started = now();
      const sink = await api('POST', route, body);
      const claimed = await until(async () => (await metrics()).includes(`rowcast_sink_lag_notifications{sink="${sink.name}"`), 30_000);
      if (!claimed) throw new Error(`sink ${sink.name} was not taken up for delivery within 30 s`);
      return { ...sink, claimMs: Math.round(now() - started) };
    },
    remove: (sink) => api('DELETE', routeOf(sink)),
    /**
     * The sink's state, last error and this instance's counters; with `end`, first waits (up to 30
     * s) for its position to reach it, so a position short of the end means it never got there.
     */
    async health(sink, end) {
      if (end !== undefined) await until(async () => Number((await api('GET', routeOf(sink))).position) >= end, 30_000);
      const { state, lastError, position } = await api('GET', routeOf(sink));
      const text = await metrics();
      const counter = (name) => Number(new RegExp(`^${name}\\{sink="${sink.name}"[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
      return {
        kind: sink.kind,
        state,
        lastError,
        position: Number(position),
        ...(end !== undefined && { end }),
        delivered: counter('rowcast_sink_deliveries_total'),
        failures: counter('rowcast_sink_failures_total'),
        retries: counter('rowcast_sink_retries_total'),
        deadLetters: counter('rowcast_sink_dead_letters_total'),
      };
    },
  });
}

/** `count` invoices in transactions of 1,000 rows, one statement each. */
async function insertInvoices(url, prefix, count) {
  for (let done = 0; done < count; done += 1_000) {
    const rows = [`${prefix}-`, done + 1, Math.min(count, done + 1_000)];
    await query(url, `INSERT INTO invoices (invoice_no) SELECT $1 || g FROM generate_series($2::int, $3::int) g`, rows);
  }
}

/** The newest notification id in the log (ids are consecutive: first_id … last_id per batch). */
async function logEnd(url) {
  return Number((await query(url, 'SELECT coalesce(max(last_id), 0)::text AS id FROM notification_batches'))[0].id);
}

/** Waits until the app has drained the log to `id` at least; returns the log's end then. */
async function logReaches(url, id) {
  if (!(await until(async () => (await logEnd(url)) >= id, 120_000))) throw new Error(`the log did not reach ${id} within 120 s`);
  return logEnd(url);
}

/** Journal rows not yet drained into notifications. */
async function backlog(url) {
  return Number((await query(url, 'SELECT capture.backlog() AS n'))[0].n);
}

async function drained(url) {
  while ((await backlog(url)) > 10) await sleep(200);
}

