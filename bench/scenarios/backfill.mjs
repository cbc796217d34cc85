// Backfills (issue 19), side by side in one run, the app as its own process (`POST /backfills`, its
// runner) with PostgreSQL on the server's core, the measuring side (polls, pgbench, the writer, the
// Socket.IO client) on the clients' core:
// 1. Rate into the log: one table of `rows` rows (filled before capture, vacuumed); from POST
//    /backfills until the backfill is completed AND every read is in the notification log (the app
//    drained them). Beside it the chunk sizes the runner chose and each chunk's transaction time,
//    from a bench-only trigger on capture.backfills (the API shows the last chunk size only).
// 2. `tables` tables of `tableRows` rows each, backfilled at once (the runner runs up to 4): total rows/s.
// 3. Writers: 8 pgbench clients, UPDATE and INSERT on the table being backfilled and on another
//    captured table, the app draining; alone, then with a backfill of the big table running (cancelled
//    after), per round; the ratio per round, then its median.
// 4. Live latency: one Socket.IO client subscribed to invoices.created, a writer inserting `rate`
//    invoices a second; commit acknowledgement → receipt (as the latency scenarios measure it),
//    alone, then with a backfill running.
// Every backfill is checked at the end of its part, so that a broken runner cannot look fast: its
// reads in the journal (and distinct keys) equal the rows it had to read, and the log grew by them
// (and by its own backfill_started and backfill_completed events).
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { apiOf } from '../lib/api.mjs';
import { startApp, warningsOf } from '../lib/app.mjs';
import { connectClients, Ledger, now } from '../lib/clients.mjs';
import { pinnedCommand } from '../lib/cpus.mjs';
import { until, writeAtRate } from '../lib/load.mjs';
import { logReader } from '../lib/notification-log.mjs';
import { freshDatabase } from '../lib/postgres.mjs';
import { median, percentile, round1, spread } from '../lib/stats.mjs';
import { cpuMeter } from '../lib/usage.mjs';
import { findPgbench } from '../lib/writers.mjs';

const BIG = 'bench_rows';
const OTHER = 'bench_other';
const OTHER_ROWS = 10_000;

/** Each chunk's size, rows and transaction time up to its cursor's move (now() is the chunk's start): a bench-only trigger. */
const CHUNK_TRACE = `
  CREATE UNLOGGED TABLE bench_chunks (backfill_id bigint, size int, read bigint, ms float8, at timestamptz DEFAULT clock_timestamp());
  CREATE FUNCTION bench_chunk_trace() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO bench_chunks (backfill_id, size, read, ms)
    VALUES (NEW.id, NEW.chunk_size, NEW.rows_done - OLD.rows_done, extract(epoch FROM clock_timestamp() - now()) * 1000);
    RETURN NULL;
  END $$;
  CREATE TRIGGER backfills_bench_chunk_trace AFTER UPDATE ON capture.backfills
    FOR EACH ROW WHEN (NEW.rows_done <> OLD.rows_done) EXECUTE FUNCTION bench_chunk_trace();`;

export async function backfill(postgres, options) {
  const warnings = [];
  // Writers and live latency first, on a log that holds little: each backfill's reads are then
  // indexed in the background (LogIndexer, a few thousand a second here), and a baseline must not
  // share the core with that.
  const during = await inFreshDatabase(postgres, 'backfill', { [BIG]: options.rows, [OTHER]: OTHER_ROWS }, warnings, async (env) => ({
    writers: await writersDuring(env, options),
    latency: await latencyDuring(env, options),
  }));
  // The rate: each round a fresh database and app, so that no round shares the core with the index
  // of the one before.
  const rate = [];
  for (let round = 1; round <= options.rateRounds; round++) {
    const result = await inFreshDatabase(postgres, 'backfill', { [BIG]: options.rows }, warnings, (env) => rateIntoLog(env, [BIG], options.profile));
    rate.push(result);
    console.error(`  backfill rate round ${round}: ${say(result)}`);
  }
  const parallel = Array.from({ length: options.tables }, (_, i) => `bench_part_${i + 1}`);
  const together = await inFreshDatabase(postgres, 'backfill', Object.fromEntries(parallel.map((t) => [t, options.tableRows])), warnings, (env) =>
    rateIntoLog(env, parallel),
  );
  console.error(`  backfill ${parallel.length} tables at once: ${say(together)}`);
  return {
    rows: options.rows,
    rate: summarizeRate(rate),
    parallel: { tables: parallel.length, tableRows: options.tableRows, ...together },
    ...during,
    appWarnings: warnings,
  };
}

/**
 * A fresh database with `tables` ({name: rows}) filled, captured, vacuumed and checkpointed, and the
 * app started on it; runs `use(env)` and drops it all. The app's warnings go to `warnings`.
 */
async function inFreshDatabase(postgres, label, tables, warnings, use) {
  const db = await freshDatabase(postgres, label);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const q = async (text, values) => (await sql.query(text, values)).rows;
  let app;
  try {
    const started = performance.now();
    for (const [table, rows] of Object.entries(tables)) await createTable(q, table, rows);
    await q(CHUNK_TRACE);
    await q('VACUUM ANALYZE');
    await q('CHECKPOINT');
    console.error(`  backfill: ${Object.entries(tables).map(([t, n]) => `${t} ${n}`).join(', ')} rows filled in ${round1((performance.now() - started) / 1000)} s`);
    app = await startApp(db.url);
    return await use({ postgres, url: db.url, q, log: logReader(q), app, api: apiOf(app.base) });
  } catch (error) {
    if (app) console.error(app.log().split('\n').filter((line) => /error|ERROR|Error/.test(line)).slice(-20).join('\n'));
    throw error;
  } finally {
    await sql.end();
    await app?.stop();
    if (app) warnings.push(...warningsOf(app));
    await db.drop();
  }
}

/** A captured table of `rows` rows (~100 bytes each), filled before capture so that the fill is not in the log. */
async function createTable(q, table, rows) {
  await q(`CREATE TABLE ${table} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, account int NOT NULL,
           amount bigint NOT NULL, note text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
  for (let done = 0; done < rows; done += 100_000) {
    await q(`INSERT INTO ${table} (id, account, amount, note) SELECT g, g % 1000, g, md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`, [
      done + 1,
      Math.min(rows, done + 100_000),
    ]);
  }
  await q(`ALTER TABLE ${table} ALTER COLUMN id RESTART WITH ${rows + 1}`);
  await q(`SELECT capture.enable('${table}')`);
}

/**
 * Backfills `tables` at once (one POST each) and waits until every one completed and the log holds
 * every read: rows/s over that, the runner's own time to completion, the chunks, CPU, and the checks.
 */
async function rateIntoLog({ api, q, log, app, postgres }, tables, profile = false) {
  const statements = profile && (await statementsOn(q));
  const load = loadAverage();
  const logBefore = await log.lastId();
  const journalBefore = await log.journalHead();
  const cpu = cpuMeter(app, [], { postgres });
  const t0 = now();
  const started = await Promise.all(tables.map((table) => api('POST', '/backfills', { table })));
  const sizes = [];
  let last = started;
  const running = () => last.some((b) => b.state === 'running');
  while (running()) {
    await sleep(100);
    last = await Promise.all(started.map((b) => api('GET', `/backfills/${b.id}`)));
    for (const b of last) if (b.state === 'running') sizes.push(b.chunkSize);
    if (now() - t0 > 900_000) throw new Error(`backfill: not completed within 900 s: ${JSON.stringify(last)}`);
  }
  const completedAt = now();
  const failed = last.filter((b) => b.state !== 'completed');
  if (failed.length) throw new Error(`backfill: ended ${failed.map((b) => `${b.table} ${b.state} ${b.error ?? ''}`).join(', ')}`);
  await log.drained(await log.journalHead());
  const loggedAt = now();
  const shares = cpu();
  // How far the log's index (LogIndexer, in the background) was behind when the reads were all in the log.
  const [{ behind }] = await q(
    `SELECT coalesce((SELECT max(last_id) FROM notification_batches) - (SELECT min(coalesce(indexed_through, 0)) FROM notification_lookups), 0)::bigint AS behind`,
  );
  const seconds = (loggedAt - t0) / 1000;
  const rows = last.reduce((sum, b) => sum + b.rowsDone, 0);
  const check = await checkReads(q, log, last, { logBefore, journalBefore, tables });
  return {
    rows,
    seconds: round1(seconds),
    perSecond: Math.round(rows / seconds),
    // The runner alone: from the POST to the last chunk's commit (the drainer keeps up or not).
    completedSeconds: round1((completedAt - t0) / 1000),
    runnerPerSecond: Math.round(rows / ((completedAt - t0) / 1000)),
    apiRate: last.map((b) => b.rate),
    chunkSizeSeen: sizes.length ? { median: median(sizes), min: Math.min(...sizes), max: Math.max(...sizes) } : null,
    chunks: await chunkStats(q, last.map((b) => b.id)),
    indexBehind: Number(behind),
    cpu: shares,
    check,
    load: { before: load, after: loadAverage() },
    ...(statements && { statements: await topStatements(q) }),
  };
}

/** Whether pg_stat_statements is loaded (`--profile`); if so, counts from now. */
async function statementsOn(q) {
  try {
    await q('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await q('SELECT pg_stat_statements_reset()');
    return true;
  } catch {
    return false;
  }
}

/** The statements since statementsOn by total execution time, top-level and nested (functions' own statements too). */
async function topStatements(q) {
  return q(
    `SELECT round(total_exec_time::numeric, 1)::float AS total_ms, calls::int, round((total_exec_time / calls)::numeric, 3)::float AS mean_ms, rows::int,
            toplevel, left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT 20`,
  );
}

/**
 * For each backfill: reads in the journal (and distinct keys) = rows in its table now = its rowsDone;
 * the log grew by exactly the reads and the backfills' own events (nothing else writes meanwhile); the drainer went past the last
 * read. `ok` is false when any of them differs.
 */
async function checkReads(q, log, backfills, { logBefore, journalBefore, tables }) {
  const per = [];
  for (const b of backfills) {
    const [counted] = await q(
      `SELECT count(*) FILTER (WHERE op = 'READ')::bigint AS reads, count(*) FILTER (WHERE op <> 'READ')::bigint AS events,
              count(DISTINCT row_pk) FILTER (WHERE op = 'READ')::bigint AS keys, coalesce(max(id), 0)::bigint AS last
       FROM capture.changes WHERE id > $1 AND backfill_id = $2`,
      [journalBefore, b.id],
    );
    const [{ rows }] = await q(`SELECT count(*)::bigint AS rows FROM ${tables[backfills.indexOf(b)]}`);
    per.push({ table: b.table, rows: Number(rows), reads: Number(counted.reads), events: Number(counted.events), keys: Number(counted.keys), rowsDone: b.rowsDone, last: Number(counted.last) });
  }
  const logged = (await log.lastId()) - logBefore;
  const reads = per.reduce((sum, p) => sum + p.reads, 0);
  // Beside the reads, each backfill's own events (backfill_started, backfill_completed).
  const events = per.reduce((sum, p) => sum + p.events, 0);
  const [{ through }] = await q(`SELECT coalesce(max(drained_through), 0)::bigint AS through FROM notification_batches`);
  const drainedPastReads = per.every((p) => Number(through) >= p.last);
  const ok = drainedPastReads && logged === reads + events && per.every((p) => p.reads === p.rows && p.keys === p.rows && p.rowsDone === p.rows);
  if (!ok) console.error(`  backfill CHECK FAILED: ${JSON.stringify({ per, logged, drainedPastReads })}`);
  return { ok, logged, reads, events, drainedPastReads, per: per.map(({ last, ...p }) => p) };
}

/** The chunks of these backfills (bench_chunks): how many, their sizes and transaction times. */
async function chunkStats(q, ids) {
  const [row] = await q(
    `SELECT count(*)::int AS chunks,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY size) AS size_p50, max(size) AS size_max,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms_p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS ms_p99,
            max(ms) AS ms_max,
            (SELECT size FROM bench_chunks WHERE backfill_id = ANY ($1::bigint[]) ORDER BY at DESC OFFSET 1 LIMIT 1) AS size_settled
     FROM bench_chunks WHERE backfill_id = ANY ($1::bigint[])`,
    [ids],
  );
  return {
    chunks: row.chunks,
    sizeP50: Number(row.size_p50),
    sizeMax: Number(row.size_max),
    // The size before the last chunk (which reads what is left): where the runner settled.
    sizeSettled: Number(row.size_settled),
    msP50: round1(Number(row.ms_p50)),
    msP99: round1(Number(row.ms_p99)),
    msMax: round1(Number(row.ms_max)),
  };
}

function summarizeRate(rounds) {
  return {
    perSecond: spread(rounds.map((r) => r.perSecond)),
    runnerPerSecond: spread(rounds.map((r) => r.runnerPerSecond)),
    rounds,
    ok: rounds.every((r) => r.check.ok),
  };
}

/** Starts a backfill of the big table and waits until its first chunk landed; `stop()` cancels it and says how far it got. */
async function aBackfillRunning(api, q, log) {
  const journalBefore = await log.journalHead();
  const started = await api('POST', '/backfills', { table: BIG });
  if (!(await until(async () => (await api('GET', `/backfills/${started.id}`)).rowsDone > 0, 30_000))) throw new Error('backfill: no chunk within 30 s');
  const from = await api('GET', `/backfills/${started.id}`);
  const at = now();
  return {
    id: started.id,
    async stop() {
      const seen = await api('GET', `/backfills/${started.id}`);
      const seconds = (now() - at) / 1000;
      if (seen.state === 'running') await api('POST', `/backfills/${started.id}/cancel`);
      // Its rowsDone after the cancel: a chunk under way still lands.
      await sleep(500);
      const end = await api('GET', `/backfills/${started.id}`);
      const [{ reads }] = await q(`SELECT count(*)::bigint AS reads FROM capture.changes WHERE id > $1 AND backfill_id = $2 AND op = 'READ'`, [journalBefore, started.id]);
      return {
        // Whether it ran through the whole measurement (a completed one was over too early).
        ranThroughout: seen.state === 'running',
        perSecond: Math.round((seen.rowsDone - from.rowsDone) / seconds),
        chunkSize: seen.chunkSize,
        consistent: Number(reads) === end.rowsDone,
      };
    },
  };
}

/**
 * Waits until the log holds everything written so far (the drainer caught up) and its index has
 * caught up too (LogIndexer works in the background: a baseline must not share the core with it);
 * returns the seconds the index took, or null when it was still behind after `indexWaitS`.
 */
async function settled(log, indexWaitS = 180) {
  await log.drained(await log.journalHead());
  try {
    return await log.indexed(indexWaitS * 1000);
  } catch {
    console.error(`  backfill: the log's index was still behind after ${indexWaitS} s; measuring anyway`);
    return null;
  }
}

/**
 * 8 pgbench clients, four scripts of equal weight, each one statement: UPDATE a random row of the
 * big table (the one being backfilled), INSERT into it (past the backfill's end), UPDATE and INSERT
 * on the other captured table. Alone, then with a backfill of the big table running; per round.
 */
async function writersDuring({ api, q, log, url }, { writerSeconds: seconds, rounds, rows }) {
  const pgbench = findPgbench();
  if (!pgbench) return { skipped: 'not measured: needs pgbench' };
  const scripts = {
    update_big: `\\set id random(1, ${rows})\nUPDATE ${BIG} SET amount = amount + 1, updated_at = now() WHERE id = :id;\n`,
    insert_big: `INSERT INTO ${BIG} (account, amount, note) VALUES (1, 1, 'live');\n`,
    update_other: `\\set id random(1, ${OTHER_ROWS})\nUPDATE ${OTHER} SET amount = amount + 1, updated_at = now() WHERE id = :id;\n`,
    insert_other: `INSERT INTO ${OTHER} (account, amount, note) VALUES (1, 1, 'live');\n`,
  };
  const files = Object.entries(scripts).map(([name, text]) => {
    const file = path.join(os.tmpdir(), `rowcast-bench-backfill-${process.pid}-${name}.sql`);
    writeFileSync(file, text);
    return `${file}@1`;
  });
  const tps = async () => {
    const args = ['-n', '-c', '8', '-j', '2', '-T', String(seconds), ...files.flatMap((f) => ['-f', f]), url];
    const [file, fileArgs] = pinnedCommand('clients', pgbench, args);
    const { stdout } = await promisify(execFile)(file, fileArgs);
    return Number(/^tps = ([\d.]+)/m.exec(stdout)[1]);
  };
  const alone = [];
  const during = [];
  const backfills = [];
  const load = [];
  const indexWaits = [];
  for (let round = 1; round <= rounds; round++) {
    indexWaits.push(await settled(log));
    load.push(loadAverage());
    alone.push(await tps());
    await settled(log);
    const running = await aBackfillRunning(api, q, log);
    during.push(await tps());
    backfills.push(await running.stop());
    console.error(
      `  backfill writers round ${round}: alone ${round1(alone.at(-1))} tps, during a backfill ${round1(during.at(-1))} tps ` +
        `(backfill ${backfills.at(-1).perSecond} rows/s meanwhile, chunk ${backfills.at(-1).chunkSize}${backfills.at(-1).ranThroughout ? '' : ', ENDED EARLY'}); load ${load.at(-1)}`,
    );
  }
  for (const file of files) rmSync(file.replace(/@1$/, ''), { force: true });
  await settled(log);
  return {
    seconds,
    indexWaits,
    tps: { alone: spread(alone), during: spread(during) },
    ratio: spread(during.map((value, i) => Math.round((value / alone[i]) * 100) / 100)),
    backfills,
    load,
  };
}

/**
 * One Socket.IO client subscribed to invoices.created, `rate` invoices a second for `latencySeconds`
 * (../lib/load.mjs: commit acknowledgements timed in the writer's thread); alone, then with a
 * backfill of the big table running; per round.
 */
async function latencyDuring({ api, q, log, app, url }, { latencySeconds: seconds, rounds, rate }) {
  const ledger = { current: new Ledger() };
  const group = await connectClients(app.base, 1, {
    request: { events: ['invoices.created'] },
    onMessage: (n) => ledger.current.receipt(n.payload.new?.invoice_no),
  });
  const runs = { alone: [], during: [] };
  const indexWaits = [];
  const tailWaits = [];
  const backfills = [];
  const load = [];
  const measure = async (prefix) => {
    ledger.current = new Ledger();
    const written = await writeAtRate(url, { rate, seconds, ledger: ledger.current, prefix });
    // Late ones count in the percentiles: reads queued ahead of them can hold them for many seconds.
    await until(() => ledger.current.received >= written, 180_000);
    const l = ledger.current.latencies;
    return { written, received: ledger.current.received, p50: round1(percentile(l, 0.5)), p99: round1(percentile(l, 0.99)), max: round1(Math.max(...l)) };
  };
  try {
    for (let round = 1; round <= rounds; round++) {
      indexWaits.push(await settled(log));
      // The app's live tail too, not only the log: one invoice through to the client.
      tailWaits.push(await throughToClient(q, ledger, `BF-MARK-${round}`));
      load.push(loadAverage());
      runs.alone.push(await measure(`BF-ALONE-${round}`));
      await settled(log);
      const running = await aBackfillRunning(api, q, log);
      runs.during.push(await measure(`BF-DURING-${round}`));
      backfills.push(await running.stop());
      console.error(
        `  backfill latency round ${round}: alone p50 ${runs.alone.at(-1).p50} p99 ${runs.alone.at(-1).p99} ms; during p50 ${runs.during.at(-1).p50} ` +
          `p99 ${runs.during.at(-1).p99} ms (backfill ${backfills.at(-1).perSecond} rows/s meanwhile${backfills.at(-1).ranThroughout ? '' : ', ENDED EARLY'}); load ${load.at(-1)}`,
      );
    }
  } finally {
    group.close();
  }
  await settled(log);
  const pick = (list, key) => spread(list.map((r) => r[key]));
  return {
    rate,
    seconds,
    clients: 1,
    indexWaits,
    tailWaits,
    alone: { p50: pick(runs.alone, 'p50'), p99: pick(runs.alone, 'p99') },
    during: { p50: pick(runs.during, 'p50'), p99: pick(runs.during, 'p99') },
    p99Above: spread(runs.during.map((r, i) => round1(r.p99 - runs.alone[i].p99))),
    lost: [...runs.alone, ...runs.during].reduce((sum, r) => sum + r.written - r.received, 0),
    runs,
    backfills,
    load,
  };
}

/** Inserts one invoice and waits until the subscribed client has it; the seconds that took. */
async function throughToClient(q, ledger, invoiceNo) {
  ledger.current = new Ledger();
  const started = now();
  await q(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [invoiceNo]);
  if (!(await until(() => ledger.current.received >= 1, 300_000))) throw new Error('backfill: the live tail did not catch up within 300 s');
  return round1((now() - started) / 1000);
}


/** The machine's load averages (1, 5, 15 min): other people's work on the same two cores. */
function loadAverage() {
  return os.loadavg().map((v) => Math.round(v * 100) / 100).join(' ');
}

function say(r) {
  return (
    `${r.rows} rows in ${r.seconds} s = ${r.perSecond} rows/s into the log (runner completed after ${r.completedSeconds} s, ${r.runnerPerSecond} rows/s); ` +
    `${r.chunks.chunks} chunks, size settled ${r.chunks.sizeSettled} (p50 ${r.chunks.sizeP50}), chunk transaction p50 ${r.chunks.msP50} p99 ${r.chunks.msP99} ms; ` +
    `CPU s/s app ${r.cpu.app} (waiting ${r.cpu.appWaitingForCpu}) PostgreSQL ${r.cpu.postgres}; index ${r.indexBehind} behind; check ${r.check.ok ? 'ok' : 'FAILED'}; load ${r.load.before} → ${r.load.after}`
  );
}

