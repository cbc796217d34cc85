// Commit → Socket.IO client latency with 100 clients subscribed, at 200 and 1,000 changes/s:
// rowcast against the raw LISTEN → Socket.IO relay (bench/relay.mjs), alternating in each round.
import { startApp, startRelay } from '../lib/app.mjs';
import { connectClients, Ledger } from '../lib/clients.mjs';
import { until, writeAtRate } from '../lib/load.mjs';
import { freshDatabase, query } from '../lib/postgres.mjs';
import { percentile, round1, spread } from '../lib/stats.mjs';

const RELAY_TRIGGER = `
  CREATE FUNCTION bench_relay() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN PERFORM pg_notify('bench_relay', row_to_json(NEW)::text); RETURN NEW; END $$;
  CREATE TRIGGER invoices_bench_relay AFTER INSERT ON invoices FOR EACH ROW EXECUTE FUNCTION bench_relay();`;

export async function latency(postgres, { seconds, rounds, clients = 100, rates = [200, 1000] }) {
  const db = await freshDatabase(postgres, 'latency');
  const runs = {};
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const rate of rates) {
        for (const target of ['rowcast', 'relay']) {
          const result = await measure(db, { target, rate, seconds, clients, prefix: `${target}-${rate}-${round}` });
          (runs[`${target}@${rate}`] ??= []).push(result);
          console.error(
            `  latency round ${round} ${target} ${rate}/s: p50 ${round1(result.p50)} ms, p99 ${round1(result.p99)} ms, ` +
              `delivered ${result.delivered}/${result.expected}, ${result.dropped} clients dropped as slow`,
          );
        }
      }
    }
  } finally {
    await db.drop();
  }
  return {
    clients,
    seconds,
    runs: Object.fromEntries(
      Object.entries(runs).map(([key, results]) => [
        key,
        {
          p50: spread(results.map((r) => r.p50)),
          p99: spread(results.map((r) => r.p99)),
          lost: results.reduce((sum, r) => sum + (r.expected - r.delivered), 0),
          // Clients disconnected for not reading fast enough (what they missed counts as lost).
          droppedSlow: results.reduce((sum, r) => sum + r.dropped, 0),
          // Connections that ended before the run did, by Socket.IO's reason (e.g. ping timeout).
          disconnects: results.map((r) => r.disconnects),
        },
      ]),
    ),
  };
}

async function measure(db, { target, rate, seconds, clients, prefix }) {
  const sql = (text) => query(db.url, text);
  if (target === 'relay') await sql(`SELECT capture.disable('invoices'); ${RELAY_TRIGGER}`);
  const server = target === 'relay' ? await startRelay(db.url) : await startApp(db.url);
  const ledger = new Ledger();
  const group = await connectClients(server.base, clients, {
    request: { events: ['invoices.created'] },
    onMessage: (n) => ledger.receipt(n.payload.new?.invoice_no),
  });
  try {
    const written = await writeAtRate(db.url, { rate, seconds, ledger, prefix });
    const expected = written * clients;
    await until(() => ledger.received >= expected, 30_000);
    return {
      p50: percentile(ledger.latencies, 0.5),
      p99: percentile(ledger.latencies, 0.99),
      delivered: ledger.received,
      expected,
      dropped: group.notices.SLOW_CONSUMER ?? 0,
      disconnects: { ...group.disconnects },
    };
  } finally {
    group.close();
    await server.stop();
    if (target === 'relay') await sql(`DROP TRIGGER invoices_bench_relay ON invoices; DROP FUNCTION bench_relay(); SELECT capture.enable('invoices');`);
  }
}
