// A writer at a fixed rate: one INSERT of an invoice per change, each its own transaction. It runs
// in a worker thread, so that its commit acknowledgements are timed when they arrive, not when the
// main thread (busy decoding what the clients receive) gets round to them. Times are absolute
// (performance.timeOrigin + now), the same clock in every thread of the process.
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WRITER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const { performance } = require('node:perf_hooks');
  const pg = require(workerData.pg);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const now = () => performance.timeOrigin + performance.now();
  let stopped = false;
  // 'stop' from the caller ends an open-ended run; the port must not keep the thread alive after.
  parentPort.on('message', () => (stopped = true)).unref();
  (async () => {
    const { url, rate, seconds, prefix } = workerData;
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    const total = Math.round(rate * seconds);
    const started = performance.now();
    const inFlight = new Set();
    let acks = [];
    const flush = setInterval(() => { if (acks.length) { parentPort.postMessage(acks); acks = []; } }, 5);
    let i = 0;
    for (; i < total && !stopped; i++) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      const invoiceNo = prefix + '-' + i;
      const sentAt = now();
      const write = pool.query('INSERT INTO invoices (invoice_no) VALUES ($1)', [invoiceNo]).then(() => acks.push([invoiceNo, now(), sentAt]));
      inFlight.add(write);
      write.finally(() => inFlight.delete(write));
      if (inFlight.size >= 64) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    clearInterval(flush);
    parentPort.postMessage(acks);
    parentPort.postMessage({ done: i });
    await pool.end();
  })();`;

/**
 * Writes `rate` invoices a second for `seconds` (Infinity: until `signal` aborts); resolves to the
 * number written. `ledger` gets each commit acknowledgement; `commits`, when given, gets
 * [sentAt, ms] per write: when it was sent and how long its commit took, on the same clock.
 */
export function writeAtRate(url, { rate, seconds, ledger, prefix, commits, signal }) {
  const pg = createRequire(import.meta.url).resolve('pg');
  const worker = new Worker(WRITER, { eval: true, workerData: { url, rate, seconds, prefix, pg } });
  signal?.addEventListener('abort', () => worker.postMessage('stop'), { once: true });
  return new Promise((resolve, reject) => {
    worker.on('message', (message) => {
      if (!Array.isArray(message)) return resolve(message.done);
      for (const [key, at, sentAt] of message) {
        ledger?.ack(key, at);
        commits?.push([sentAt, at - sentAt]);
      }
    });
    worker.once('error', reject);
  });
}

/** Waits until `done()` or `timeoutMs`, polling; returns whether it became true. */
export async function until(done, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}
