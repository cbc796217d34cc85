// What each app instance tailing one log costs PostgreSQL: 1, 2, 4, 8, 16 instances on one
// database (the first drains, the others tail; no clients connected), idle and under a steady
// writer. Instances go on the server's core with PostgreSQL, as every app does (./app.mjs).
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from './app.mjs';
import { now } from './clients.mjs';
import { writeAtRate } from './load.mjs';
import { round1 } from './stats.mjs';
import { backendMeter, cpuMeter } from './usage.mjs';

/**
 * PostgreSQL CPU with `instances` app instances in turn (`app`, already draining, and more started
 * beside it), idle and under a writer of `rate` invoices a second, each for `cpuSeconds`. The
 * slope over instances, per change written, is what each extra tailing instance costs PostgreSQL.
 * The CPU of the tails' own backends (application_name rowcast-feed) says it per instance, and
 * still reads right once the server's core is full, when the slope flattens (the tails fall
 * behind, and each look reads more).
 */
export async function tailingInstances(url, postgres, app, log, sql, { instances, rate, cpuSeconds }) {
  const extra = [];
  const steps = [];
  try {
    for (const count of instances) {
      const started = await Promise.allSettled(Array.from({ length: count - 1 - extra.length }, () => startApp(url)));
      extra.push(...started.filter((s) => s.status === 'fulfilled').map((s) => s.value));
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      const all = [app, ...extra];
      await sleep(3000); // start-up's own reads done
      const idle = await measureCpu(all, postgres, log, sql, cpuSeconds);
      const stop = new AbortController();
      const writer = writeAtRate(url, { rate, seconds: Infinity, prefix: `TAIL-${count}-${Date.now()}`, signal: stop.signal });
      let writing;
      try {
        await sleep(1500); // the writer's connections open, the tails in step
        writing = await measureCpu(all, postgres, log, sql, cpuSeconds);
      } finally {
        stop.abort();
        await writer;
      }
      // The tails' own backends (the drainer's instance hands its batches over and reads nothing).
      const tails = count - 1;
      const feed = (m) => m.backends['rowcast-feed'] ?? 0;
      const perTail = (per) => (tails ? round1(((feed(writing) - feed(idle)) / tails / per) * 1e6) : null);
      const step = {
        instances: count,
        idle,
        writing,
        feedUsPerChangePerTail: perTail(writing.changesPerSecond),
        feedUsPerBatchPerTail: perTail(writing.batchesPerSecond),
      };
      steps.push(step);
      console.error(
        `    ${count} instance(s): PostgreSQL ${idle.postgres} s/s idle, ${writing.postgres} s/s at ${writing.changesPerSecond} changes/s ` +
          `in ${writing.batchesPerSecond} batches/s (tails' backends ${feed(writing)} s/s` +
          `${tails ? `: ${step.feedUsPerChangePerTail} µs per change, ${step.feedUsPerBatchPerTail} µs per batch, per tail` : ''}); ` +
          `apps ${idle.apps} / ${writing.apps} s/s`,
      );
    }
  } finally {
    await Promise.all(extra.map((instance) => instance.stop()));
  }
  const slope = (key, over = steps) => fitSlope(over.map((s) => [s.instances, s[key].postgres]));
  const perChange = (over) => {
    const rateSeen = over.reduce((sum, s) => sum + s.writing.changesPerSecond, 0) / over.length;
    return round1(((slope('writing', over) - slope('idle', over)) / rateSeen) * 1e6);
  };
  return {
    rate,
    steps,
    // PostgreSQL s/s per extra instance, idle and writing (least squares over the steps).
    idleSlope: slope('idle'),
    writingSlope: slope('writing'),
    // Per change: the writing slope less the idle one, over the rate written; over every step, and
    // over the first two alone (before the server's core is full, when it fills).
    usPerChangePerInstance: perChange(steps),
    usPerChangePerInstanceFirstTwo: steps.length >= 2 ? perChange(steps.slice(0, 2)) : null,
    // The server's core (PostgreSQL and every instance) per step: near 1.0, it was full.
    serverCore: steps.map((s) => Math.round((s.writing.postgres + s.writing.apps) * 100) / 100),
  };
}

/**
 * CPU s/s of PostgreSQL (postmaster and backends, and the backends by application_name) and of
 * the app instances together, and the changes logged per second, over `seconds`.
 */
async function measureCpu(apps, postgres, log, sql, seconds) {
  const alive = () => {
    const dead = apps.findIndex((instance) => instance.exitCode !== null);
    if (dead >= 0) throw new Error(`app instance ${dead + 1} of ${apps.length} exited (${apps[dead].exitCode}):\n${apps[dead].log().slice(-3000)}`);
  };
  alive();
  const backends = await sql(`SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`);
  const meters = apps.map((instance, i) => cpuMeter(instance, [], i === 0 ? { postgres } : {}));
  const byBackend = backendMeter(backends);
  const from = await log.batches();
  const started = now();
  await sleep(seconds * 1000);
  const to = await log.batches();
  const elapsed = (now() - started) / 1000;
  alive();
  const shares = meters.map((meter) => meter());
  return {
    postgres: shares[0].postgres,
    backends: byBackend(),
    apps: Math.round(shares.reduce((sum, s) => sum + s.app, 0) * 100) / 100,
    appWaitingForCpu: shares[0].appWaitingForCpu,
    changesPerSecond: Math.round((to.lastId - from.lastId) / elapsed),
    batchesPerSecond: Math.round((to.batches - from.batches) / elapsed),
  };
}

/** Least-squares slope of y over x. */
function fitSlope(points) {
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  const mx = mean(points.map(([x]) => x));
  const my = mean(points.map(([, y]) => y));
  const num = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const den = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return den ? Math.round((num / den) * 1e5) / 1e5 : NaN;
}
