// The floor for latency: the smallest LISTEN → Socket.IO relay, written as people usually write
// it. A per-row trigger NOTIFYs `bench_relay` with the row as JSON; this process LISTENs and emits
// each payload to every client of /events. No journal, no replay, no filtering, no ordering
// guarantees beyond NOTIFY's. Run as its own process, like the app:
//   node bench/relay.mjs <database-url>   → prints "relay ready on http://127.0.0.1:<port>"
import http from 'node:http';
import pg from 'pg';
import { Server } from 'socket.io';

const client = new pg.Client({ connectionString: process.argv[2] });
await client.connect();
const server = http.createServer();
const events = new Server(server).of('/events');
events.on('connection', (socket) => socket.on('subscribe', (_request, ack) => ack?.({ ok: true })));
let id = 0;
client.on('notification', (message) => {
  events.emit('notification', { id: String(++id), event: 'invoices.created', payload: { new: JSON.parse(message.payload) } });
});
await client.query('LISTEN bench_relay');
server.listen(0, '127.0.0.1', () => console.log(`relay ready on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  events.server.close();
  client.end().finally(() => process.exit(0));
});
