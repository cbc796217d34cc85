// 8 concurrent writers, each transaction one INSERT of an invoice item into one of 100 invoices.
// pgbench when the machine has it (C, so the driver takes little of the CPU it measures),
// otherwise the same workload from 8 connections in a worker thread.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { pinnedCommand } from './cpus.mjs';

const INSERT = `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit)
  SELECT id, 1, 100 FROM invoices ORDER BY id OFFSET :n - 1 LIMIT 1;`;

export function findPgbench() {
  for (const dir of (process.env.PATH ?? '').split(':')) if (existsSync(path.join(dir, 'pgbench'))) return path.join(dir, 'pgbench');
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => path.join(root, v, 'bin/pgbench')).find(existsSync);
}

/** Transactions per second of 8 writers for `seconds`. */
export async function writeTps(url, seconds) {
  const pgbench = findPgbench();
  if (pgbench) {
    const script = path.join(os.tmpdir(), `rowcast-bench-${process.pid}.sql`);
    writeFileSync(script, `\\set n random(1, 100)\n${INSERT}\n`);
    // A client: the clients' core (explicit, not merely inherited from this process).
    const [file, args] = pinnedCommand('clients', pgbench, ['-n', '-c', '8', '-j', '2', '-T', String(seconds), '-f', script, url]);
    const { stdout } = await promisify(execFile)(file, args);
    return Number(/^tps = ([\d.]+)/m.exec(stdout)[1]);
  }
  return nodeWriters(url, seconds);
}

export const driverName = () => (findPgbench() ? 'pgbench' : 'node-postgres, 8 connections in a worker thread');

function nodeWriters(url, seconds) {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const pg = require(workerData.pg);
    (async () => {
      const end = Date.now() + workerData.seconds * 1000;
      let done = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        const client = new pg.Client({ connectionString: workerData.url });
        await client.connect();
        const sql = ${JSON.stringify(INSERT.replace(':n - 1', '$1'))};
        while (Date.now() < end) { await client.query(sql, [Math.floor(Math.random() * 100)]); done++; }
        await client.end();
      }));
      parentPort.postMessage(done / workerData.seconds);
    })();`;
  const worker = new Worker(code, { eval: true, workerData: { url, seconds, pg: createRequire(import.meta.url).resolve('pg') } });
  return new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
}
