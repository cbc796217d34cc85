// The service as its own process (`node dist/src/main.js`, as `npm start` runs it), and the
// benchmark's raw relay as its own process too, so both are measured the same way: each on the
// server's core when the benchmark pins CPUs (./cpus.mjs).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pinnedCommand } from './cpus.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Limits a benchmark would otherwise trip over; the scenarios measure throughput, not refusals. */
const BENCH_ENV = { RATE_LIMIT: '0', WS_RATE_LIMIT: '0', WS_MAX_CONNECTIONS_PER_KEY: '100000' };

export function startApp(databaseUrl, env = {}) {
  // Logging as in production (info: one line per request).
  const appEnv = { DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...BENCH_ENV, ...env };
  // `npm run bench -- --cpu-prof`: every app process writes a V8 CPU profile when it stops.
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
  return startProcess([...profile, 'dist/src/main.js'], appEnv, /dashboard (http:\/\/\S+?)\//);
}

export function startRelay(databaseUrl) {
  return startProcess(['bench/relay.mjs', databaseUrl], {}, /relay ready on (http:\/\/\S+)/);
}

/** The hand-written SKIP LOCKED work queue (bench/queue.mjs): the pull consumers' baseline. */
export function startQueue(databaseUrl) {
  return startProcess(['bench/queue.mjs', databaseUrl], {}, /queue ready on (http:\/\/\S+)/);
}

export function startEmitter(perSecond, seconds) {
  return startProcess(['bench/emitter.mjs', String(perSecond), String(seconds)], {}, /emitter ready on (http:\/\/\S+)/);
}

async function startProcess(args, env, ready) {
  const [file, fileArgs] = pinnedCommand('server', process.execPath, args);
  const child = spawn(file, fileArgs, { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk) => {
    if (log.length < 200_000) log += chunk;
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const deadline = Date.now() + 60_000;
  let base;
  while (!(base = ready.exec(log)?.[1])) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args[0]} did not start:\n${log}`);
    await sleep(50);
  }
  return {
    base,
    pid: child.pid,
    log: () => log,
    /** null while it runs. */
    get exitCode() {
      return child.exitCode;
    },
    /** Peak resident set size of the process so far (Linux VmHWM), in MB. */
    peakRssMb() {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return match ? Number(match[1]) / 1024 : NaN;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/**
 * The app's warnings and errors (pino JSON lines, level 40 and up), for the report's notes; not the
 * one every start without API keys logs (the benchmark runs without keys).
 */
export function warningsOf(app) {
  return app
    .log()
    .split('\n')
    .flatMap((line) => {
      try {
        const entry = JSON.parse(line);
        if (entry.level < 40 || /^no API key exists/.test(entry.msg ?? '')) return [];
        return [`${entry.level >= 50 ? 'error' : 'warn'}: ${entry.msg ?? line}`];
      } catch {
        return []; // not a JSON line (Nest's start-up banner)
      }
    });
}
