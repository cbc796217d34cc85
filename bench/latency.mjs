// Commit → Socket.IO client latency: N clients subscribed, a writer committing at a fixed rate.
// Latency is measured on one clock, in this process: from the writer's commit acknowledgement
// to each client's receipt (performance.now()). The app runs as its own process on a fresh
// database. Usage: node bench/latency.mjs [--admin-url URL] [--clients 100] [--rate 300] [--seconds 20]
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { io } from 'socket.io-client';

const { values: opts } = parseArgs({
  options: {
    'admin-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    clients: { type: 'string', default: '100' },
    rate: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '20' },
  },
});
const clients = Number(opts.clients);
const rate = Number(opts.rate);
const seconds = Number(opts.seconds);
const database = `rowcast_latency_${process.pid}`;
const admin = new pg.Client({ connectionString: opts['admin-url'] });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
const url = new URL(opts['admin-url']);
url.pathname = `/${database}`;

const app = spawn(process.execPath, ['dist/src/main.js'], {
  env: { ...process.env, DATABASE_URL: url.toString(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let log = '';
app.stdout.on('data', (chunk) => (log += chunk));
const deadline = Date.now() + 60_000;
let base;
while (!(base = /dashboard (http:\/\/\S+?)\//.exec(log)?.[1])) {
  if (Date.now() > deadline || app.exitCode !== null) throw new Error(`the app did not start:\n${log}`);
  await sleep(100);
}

const committedAt = new Map(); // invoice_no -> performance.now() at the commit acknowledgement
const latencies = [];
let received = 0;
const sockets = await Promise.all(
  Array.from({ length: clients }, async () => {
    const socket = io(`${base}/events`, { transports: ['websocket'], forceNew: true });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
    socket.on('notification', (n) => {
      const at = performance.now();
      const sent = committedAt.get(n.payload.new?.invoice_no);
      if (sent !== undefined) latencies.push(at - sent);
      received++;
    });
    const ack = await socket.emitWithAck('subscribe', { events: ['invoices.created'] });
    if (!ack.ok) throw new Error(JSON.stringify(ack));
    return socket;
  }),
);

const writer = new pg.Pool({ connectionString: url.toString(), max: 4 });
const total = rate * seconds;
const started = performance.now();
let inFlight = [];
for (let i = 0; i < total; i++) {
  const due = started + (i * 1000) / rate;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  const invoiceNo = `LAT-${i}`;
  inFlight.push(
    writer.query('INSERT INTO invoices (invoice_no) VALUES ($1)', [invoiceNo]).then(() => {
      committedAt.set(invoiceNo, performance.now());
    }),
  );
  if (inFlight.length >= 64) inFlight = (await Promise.all(inFlight), []);
}
await Promise.all(inFlight);
const expected = total * clients;
const waitUntil = Date.now() + 60_000;
while (received < expected && Date.now() < waitUntil) await sleep(50);

latencies.sort((a, b) => a - b);
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
console.log(
  `${clients} clients, ${rate} changes/s for ${seconds} s: received ${received}/${expected}; ` +
    `commit→client p50 ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${at(1).toFixed(1)} ms`,
);

for (const socket of sockets) socket.close();
await writer.end();
app.kill('SIGTERM');
await new Promise((resolve) => app.once('exit', resolve));
await admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
await admin.end();
