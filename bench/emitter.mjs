// The measuring side's ceiling: how many notifications a second the benchmark's Socket.IO clients
// can take, with no database and no capture behind them. Every client of /events gets a message of
// rowcast's shape (within a few bytes of its size) at a fixed rate, sent the way rowcast sends (one
// encode per message, each flush one write: the app's coalesced WebSocket writes). Run as its own
// process, like the app:
//   node bench/emitter.mjs <messages per second> <seconds>   → prints "emitter ready on http://127.0.0.1:<port>"
// `GET /start` starts the emitting (it answers at once); any other GET says how many were emitted
// to each client so far (`{"sent": n}`).
import http from 'node:http';
import { coalesceWebSocketWrites } from '../dist/src/realtime/coalesced-writes.js';
import { eventsNamespace } from './lib/events-server.mjs';

const [perSecond, seconds] = process.argv.slice(2).map(Number);
if (!coalesceWebSocketWrites()) throw new Error('engine.io changed shape: writes are not coalesced');
let sent = 0;
const server = http.createServer((request, response) => {
  if (request.url === '/start') start();
  response.end(JSON.stringify({ sent }));
});
const events = eventsNamespace(server);

/** Each message names the subscription it is for, as rowcast's do (an id of its length). */
const SUBSCRIPTION = 'bench-01';

function message(id) {
  const at = new Date().toISOString();
  const row = { id: '7cbf9748-4a3b-463d-97e2-754c13be1d2a', created_at: at, invoice_no: `ceiling-${id}`, updated_at: at, total_amount: 0 };
  const payload = { schema: 'public', table: 'invoices', op: 'INSERT', pk: { id: row.id }, new: row, old: null, changedColumns: null };
  return { subscriptionIds: [SUBSCRIPTION], id: String(id), event: 'invoices.created', createdAt: at, payload: { ...payload, actor: 'postgres', txId: String(id), changedAt: at } };
}

let started;
function start() {
  if (started) return;
  started = performance.now();
  const total = Math.round(perSecond * seconds);
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * perSecond));
    while (sent < due) events.emit('notification', message(++sent));
    if (sent === total) clearInterval(timer);
  }, 1);
}

server.listen(0, '127.0.0.1', () => console.log(`emitter ready on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  events.server.close();
  process.exit(0);
});
