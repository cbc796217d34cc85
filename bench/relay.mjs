// The floor for latency: the smallest LISTEN → Socket.IO relay, written as people usually write
// it. A per-row trigger NOTIFYs `bench_relay` with the row as JSON; this process LISTENs and emits
// each to every client of /events. No journal, no replay, no filtering, no ordering guarantees
// beyond NOTIFY's. Two things are as rowcast's, so that the clients' core (which parses every
// message) and the rule that drops a client that falls behind cost both the same: the message
// has rowcast's fields (about its bytes), and the heartbeat is rowcast's default. Run as its own
// process, like the app:
//   node bench/relay.mjs <database-url>   → prints "relay ready on http://127.0.0.1:<port>"
import http from 'node:http';
import pg from 'pg';
import { eventsNamespace } from './lib/events-server.mjs';

const client = new pg.Client({ connectionString: process.argv[2] });
await client.connect();
const server = http.createServer();
// rowcast's heartbeat, not Socket.IO's own defaults (25 s and 20 s).
const events = eventsNamespace(server);
let id = 0;
client.on('notification', (message) => {
  const row = JSON.parse(message.payload);
  const at = new Date().toISOString();
  const payload = {
    schema: 'public', table: 'invoices', op: 'INSERT', pk: { id: row.id }, new: row, old: null, changedColumns: null,
    actor: client.user, txId: String(id + 1), changedAt: at,
  };
  // Named for a subscription, as rowcast's messages are (an id of its length).
  events.emit('notification', { subscriptionIds: ['bench-01'], id: String(++id), event: 'invoices.created', createdAt: at, payload });
});
await client.query('LISTEN bench_relay');
server.listen(0, '127.0.0.1', () => console.log(`relay ready on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  events.server.close();
  client.end().finally(() => process.exit(0));
});
