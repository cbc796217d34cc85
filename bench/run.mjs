// `npm run bench` (about 22 minutes) or `npm run bench -- --quick` (about 3 minutes): runs every
// scenario against a PostgreSQL of its own (embedded, or BENCH_DATABASE_URL), prints a table,
// writes bench/results/<date>[-quick].json and .svg (a full run also docs/benchmarks.svg).
// `--only writes,latency` runs some scenarios; `--profile` also records where the time goes
// (pg_stat_statements in the JSON, V8 CPU profiles of the app in bench/results/profiles).
// `--only scale` (about 10 minutes; `--quick` about 3) fills one log to 200,000 and 2,000,000
// notifications and measures what grows with it; BENCH_SCALE_SIZES=200000,2000000,5000000 sets
// the sizes. It runs only when named: it would double a full run. See docs/benchmarks.md.
// `--only consumers` (about 8 minutes; `--quick` about 1): pull consumers over HTTP (issue 20);
// `node bench/request-cost.mjs` (about 2 minutes): what one request of theirs costs the server.
// `--only backfill` (about 10 minutes; `--quick` under 2): backfills (issue 19); only when named.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pinning, pinSelf } from './lib/cpus.mjs';
import { startPostgres, serverVersion } from './lib/postgres.mjs';
import { svg, table } from './lib/report.mjs';
import { backfill } from './scenarios/backfill.mjs';
import { bulk } from './scenarios/bulk.mjs';
import { burst } from './scenarios/burst.mjs';
import { catchup } from './scenarios/catchup.mjs';
import { consumers } from './scenarios/consumers.mjs';
import { ceiling } from './scenarios/ceiling.mjs';
import { fanout } from './scenarios/fanout.mjs';
import { latency } from './scenarios/latency.mjs';
import { rest } from './scenarios/rest.mjs';
import { scale } from './scenarios/scale.mjs';
import { sinks } from './scenarios/sinks.mjs';
import { writes } from './scenarios/writes.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, profile: { type: 'boolean', default: false } },
});
const quick = args.quick;
const profile = args.profile;
const PROFILES = path.join(ROOT, 'bench/results/profiles');
// --profile: the app writes V8 CPU profiles (bench/results/profiles) and PostgreSQL tracks statements.
if (profile) process.env.BENCH_CPU_PROF_DIR = PROFILES;
const PLAN = {
  writes: (pg) => writes(pg, { ...(quick ? { seconds: 3, rounds: 1 } : { seconds: 15, rounds: 3 }), profile }),
  bulk: (pg) => bulk(pg, { rounds: quick ? 3 : 7 }),
  latency: (pg) => latency(pg, quick ? { seconds: 3, rounds: 1 } : { seconds: 15, rounds: 2 }),
  // The same with one client: the pipeline's own latency, without the cost of fanning out.
  latency1: (pg) => latency(pg, { ...(quick ? { seconds: 3, rounds: 1 } : { seconds: 10, rounds: 2 }), clients: 1 }),
  fanout: (pg) => fanout(pg, quick ? { seconds: 5, rounds: 1 } : { seconds: 30, rounds: 2 }),
  // The clients alone, fed by a server with no database: what the push scenarios can measure today.
  ceiling: () => ceiling({ seconds: quick ? 3 : 10 }),
  catchup: (pg) => catchup(pg, { behind: quick ? 20_000 : 100_000 }),
  burst: (pg) => burst(pg, { rows: quick ? 20_000 : 100_000 }),
  rest: (pg) => rest(pg, { seconds: quick ? 3 : 15 }),
  // Webhook, RabbitMQ and NATS sinks, and the writers with three of them active (about 2 minutes).
  sinks: (pg) =>
    sinks(pg, quick
      ? { latencySeconds: 3, changes: 5_000, behind: 20_000, writerSeconds: 3, rounds: 1 }
      : { latencySeconds: 10, changes: 20_000, behind: 50_000, writerSeconds: 10, rounds: 3 }),
  // Pull consumers (issue 20): receive + ack throughput against a hand-written SKIP LOCKED queue,
  // long-poll wake-up after a commit, and 16 key-ordered workers ÷ 1 (about 5 minutes; quick about 1).
  consumers: (pg) =>
    consumers(pg, {
      ...(quick
        ? { prefill: 50_000, clients: [1, 8], seconds: 2, rounds: 1, wakeSamples: 40, changesPerKey: 10, scalingSeconds: 3 }
        : { prefill: 200_000, clients: [1, 4, 8], seconds: 5, rounds: 3, wakeSamples: 200, changesPerKey: 30, scalingSeconds: 6 }),
      keys: 1000,
      workers: [1, 16],
      workMs: 5,
      poolSize: 32,
      profile,
    }),
  // Backfills (issue 19): rate into the log for one table and for 4 at once, writers' throughput and
  // live latency during a backfill against without (about 10 minutes; quick under 2).
  backfill: (pg) =>
    backfill(pg, {
      ...(quick
        ? { rows: 200_000, tables: 4, tableRows: 50_000, rateRounds: 1, writerSeconds: 3, latencySeconds: 3, rounds: 1 }
        : { rows: 1_000_000, tables: 4, tableRows: 250_000, rateRounds: 3, writerSeconds: 10, latencySeconds: 10, rounds: 3 }),
      rate: 200,
      profile,
    }),
  // One log filled to each size in turn, and what grows with it (issue 22): run with --only scale.
  scale: (pg) =>
    scale(pg, {
      ...(quick
        ? { sizes: [50_000, 200_000], behind: 20_000, backlog: 20_000, retention: 30_000, instances: [1, 2, 4], cpuSeconds: 4, pageBudgetMs: 5_000, afterSeconds: 3 }
        : { sizes: [200_000, 2_000_000], behind: 100_000, backlog: 200_000, retention: 100_000, instances: [1, 2, 4, 8, 16], cpuSeconds: 6, pageBudgetMs: 15_000, afterSeconds: 8 }),
      ...(process.env.BENCH_SCALE_SIZES && { sizes: process.env.BENCH_SCALE_SIZES.split(',').map(Number) }),
      rate: 300,
      healthCalls: 50,
      pageCalls: 30,
    }),
};
/** Scenarios a run without --only leaves out: scale alone takes about as long as all the others, backfill half as long. */
const ON_REQUEST = ['scale', 'backfill'];
const chosen = args.only ? args.only.split(',') : Object.keys(PLAN).filter((name) => !ON_REQUEST.includes(name));
const unknown = chosen.filter((name) => !(name in PLAN));
if (unknown.length) {
  console.error(`unknown scenario ${unknown.join(', ')}; the scenarios are ${Object.keys(PLAN).join(', ')}`);
  process.exit(2);
}

// The clients (this process and its threads, pgbench) on one core, the server side on another:
// see lib/cpus.mjs. Before PostgreSQL starts, which is then moved to the server's core.
pinSelf();
const postgres = await startPostgres({ profile });
const cpus = pinning.applied
  ? `clients on core ${pinning.clients}, app or relay${postgres.pinned ? ' and PostgreSQL' : ''} on core ${pinning.server}`
  : `not pinned (${pinning.reason}): clients and server share the cores`;
console.error(`CPUs: ${cpus}`);
const results = {
  mode: quick ? 'quick' : 'full',
  date: new Date().toISOString(),
  pinning: { ...pinning, postgres: postgres.pinned, note: cpus },
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${await serverVersion(postgres.adminUrl)} (${postgres.description})`,
  scenarios: {},
};
try {
  for (const name of chosen) {
    const started = Date.now();
    console.error(`${name}…`);
    results.scenarios[name] = await PLAN[name](postgres);
    console.error(`  ${name} took ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
} finally {
  await postgres.stop();
}

console.log(`\nrowcast benchmark, ${results.mode} run, ${results.date}\nCPUs: ${cpus}\n${results.machine}\n`);
console.log(table(results));
// A partial run never overwrites a full one.
const stem = `${results.date.slice(0, 10)}${quick ? '-quick' : ''}${args.only ? `-${chosen.join('-')}` : ''}`;
const dir = path.join(ROOT, 'bench/results');
mkdirSync(dir, { recursive: true });
if (results.scenarios.writes?.profileAfterB) {
  console.log('\nPostgreSQL statements during rounds A and B (pg_stat_statements, by total time):');
  for (const s of results.scenarios.writes.profileAfterB) {
    console.log(`${String(s.total_ms).padStart(9)} ms ${String(s.calls).padStart(8)} calls ${s.toplevel ? 'top   ' : 'nested'} ${s.query}`);
  }
}
writeFileSync(path.join(dir, `${stem}.json`), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(path.join(dir, `${stem}.svg`), svg(results));
if (!quick && !args.only) writeFileSync(path.join(ROOT, 'docs/benchmarks.svg'), svg(results));
console.log(`\nwritten: bench/results/${stem}.json, bench/results/${stem}.svg${!quick && !args.only ? ', docs/benchmarks.svg' : ''}`);
