// CPU use of the processes a scenario involves, from Linux /proc: how many CPU seconds per second
// of wall time each used, and how long the app's JavaScript thread was ready to run but waited for
// its core. Where the time goes when a rate falls short: a side near 1.0 used a whole core; a long
// wait means the core was busy with others (on the server's core, PostgreSQL).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { now } from './clients.mjs';
import { childrenOf } from './cpus.mjs';

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/**
 * CPU seconds (user + system) a process has used so far (Linux /proc); with `children`, also those
 * of its children that have ended (and been waited for): a PostgreSQL backend that exits during a
 * measurement is counted in its postmaster's.
 */
function cpuSeconds(pid, { children = false } = {}) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = Number(fields[11]) + Number(fields[12]);
  return (children ? own + Number(fields[13]) + Number(fields[14]) : own) / CLOCK_TICKS;
}

/** Process ids of the machine's processes named `name` (the brokers: beam.smp, nats-server). */
function pidsNamed(name) {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/**
 * CPU seconds of a process tree so far: the process with its ended children, then its live
 * children (looked up at each read: a PostgreSQL backend starts per connection). Read in that
 * order, a child that ends between the two reads is missed at that read, never counted twice.
 */
function treeSeconds(pid) {
  const root = safeCpuSeconds(pid);
  return childrenOf(pid).reduce((sum, child) => sum + safeCpuSeconds(child), root);
}

/**
 * Starts measuring; the function returned gives the shares since then: `app`, `appWaitingForCpu`,
 * `bench` (this process: receivers, clients); when `others` names processes (the brokers'
 * servers, e.g. beam.smp), their sum under the names joined with '+'; with `postgres` (the
 * benchmark's own server, ./postgres.mjs), its postmaster and backends under `postgres`.
 */
export function cpuMeter(app, others = [], { postgres } = {}) {
  const othersSeconds = () => others.flatMap(pidsNamed).reduce((sum, pid) => sum + safeCpuSeconds(pid), 0);
  const read = () => ({
    at: now(),
    app: cpuSeconds(app.pid),
    // The app's main (JavaScript) thread: nanoseconds it was ready to run but another task had the core.
    appWaiting: safeSchedWait(app.pid),
    bench: process.cpuUsage(),
    others: othersSeconds(),
    postgres: postgres?.pid ? treeSeconds(postgres.pid) : undefined,
  });
  const start = read();
  return () => {
    const end = read();
    const wall = (end.at - start.at) / 1000;
    const bench = (end.bench.user + end.bench.system - start.bench.user - start.bench.system) / 1e6;
    const share = (value) => Math.round((value / wall) * 100) / 100;
    return {
      app: share(end.app - start.app),
      appWaitingForCpu: share((end.appWaiting - start.appWaiting) / 1e9),
      bench: share(bench),
      ...(others.length && { [others.join('+')]: share(end.others - start.others) }),
      ...(start.postgres !== undefined && { postgres: share(end.postgres - start.postgres) }),
    };
  };
}

/**
 * Starts measuring the CPU of PostgreSQL backends (`backends`: rows of pg_stat_activity with pid
 * and application_name, read by the caller); the function returned gives CPU s/s since then summed
 * by application_name. Backends that end meanwhile are missed: the postmaster's tree (cpuMeter's
 * `postgres`) is the total.
 */
export function backendMeter(backends) {
  const read = () => backends.map((backend) => safeCpuSeconds(backend.pid));
  const startedAt = now();
  const start = read();
  return () => {
    const end = read();
    const wall = (now() - startedAt) / 1000;
    const byName = {};
    backends.forEach(({ application_name: name }, i) => (byName[name || '(none)'] = (byName[name || '(none)'] ?? 0) + Math.max(0, end[i] - start[i]) / wall));
    return Object.fromEntries(Object.entries(byName).map(([name, share]) => [name, Math.round(share * 1000) / 1000]));
  };
}

function safeSchedWait(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
  } catch {
    return NaN; // a kernel without schedstats
  }
}

function safeCpuSeconds(pid) {
  try {
    return cpuSeconds(pid, { children: true });
  } catch {
    return 0;
  }
}
