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
  (async () => {
    const { url, rate, seconds, prefix } = workerData;
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    const total = Math.round(rate * seconds);
    const started = performance.now();
    const inFlight = new Set();
    let acks = [];
    const flush = setInterval(() => { if (acks.length) { parentPort.postMessage(acks); acks = []; } }, 5);
    for (let i = 0; i < total; i++) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      const invoiceNo = prefix + '-' + i;
      const write = pool.query('INSERT INTO invoices (invoice_no) VALUES ($1)', [invoiceNo]).then(() => acks.push([invoiceNo, now()]));
      inFlight.add(write);
      write.finally(() => inFlight.delete(write));
      if (inFlight.size >= 64) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    clearInterval(flush);
    parentPort.postMessage(acks);
    parentPort.postMessage({ done: total });
    await pool.end();
  })();`;

export function writeAtRate(url, { rate, seconds, ledger, prefix }) {
  const pg = createRequire(import.meta.url).resolve('pg');
  const worker = new Worker(WRITER, { eval: true, workerData: { url, rate, seconds, prefix, pg } });
  return new Promise((resolve, reject) => {
    worker.on('message', (message) => {
      if (Array.isArray(message)) for (const [key, at] of message) ledger?.ack(key, at);
      else resolve(message.done);
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
