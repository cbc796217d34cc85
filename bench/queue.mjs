// The baseline for pull consumers: a work queue as people write it by hand, a table leased with
// `SELECT … FOR UPDATE SKIP LOCKED` behind a bare HTTP server. One table of messages (the body as
// jsonb, rowcast's notification), no log, no filter, no per-key order, no dead letters: receive
// leases the lowest ids not leased, ack deletes them. The same routes and bodies as rowcast's
// consumers (`POST /consumers/:name/receive {max, ack?}`, `…/ack {leaseIds}`), so the benchmark's loops
// drive both alike. Run as its own process, like the app:
//   node bench/queue.mjs <database-url>   → prints "queue ready on http://127.0.0.1:<port>"
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.argv[2], max: 10 });

const RECEIVE = `
  UPDATE bench_queue q SET lease_id = gen_random_uuid(), leased_until = now() + interval '30 seconds', deliveries = q.deliveries + 1
  FROM (SELECT id FROM bench_queue WHERE leased_until IS NULL OR leased_until < now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) c
  WHERE q.id = c.id
  RETURNING q.lease_id::text AS "leaseId", q.deliveries, q.leased_until AS "leasedUntil", q.body AS notification`;
const ACK = `DELETE FROM bench_queue WHERE lease_id = ANY ($1::uuid[]) RETURNING lease_id::text`;

const ack = async (leaseIds) => {
  const done = new Set((await pool.query(ACK, [leaseIds])).rows.map((row) => row.lease_id));
  return { done: leaseIds.filter((id) => done.has(id)), unknown: leaseIds.filter((id) => !done.has(id)) };
};

const routes = {
  // `ack` on a receive: acknowledged first, as rowcast's receive takes them (a worker's ack and its next receive in one request).
  receive: async ({ max = 100, ack: leaseIds }) => {
    const acked = leaseIds?.length ? await ack(leaseIds) : undefined;
    return { messages: (await pool.query(RECEIVE, [max])).rows, ...(acked && { acked }) };
  },
  ack: async ({ leaseIds }) => ack(leaseIds),
};

const server = http.createServer((request, response) => {
  const route = routes[/^\/consumers\/[^/]+\/(receive|ack)$/.exec(request.url ?? '')?.[1]];
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', async () => {
    try {
      if (!route || request.method !== 'POST') throw Object.assign(new Error('not found'), { status: 404 });
      const result = JSON.stringify(await route(JSON.parse(body || '{}')));
      response.writeHead(200, { 'content-type': 'application/json' }).end(result);
    } catch (error) {
      response.writeHead(error.status ?? 500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(error.message) }));
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`queue ready on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  server.close();
  pool.end().finally(() => process.exit(0));
});
