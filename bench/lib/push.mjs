// Pushing a fixed rate of changes to many Socket.IO clients, rowcast against the raw relay
// (bench/relay.mjs) in the same run: the latency and fan-out scenarios both measure this way, so
// that every figure has its floor from the same machine at the same time. Each round runs rowcast
// then the relay at each rate, with the same number of clients and the same writer, each server a
// fresh process; results are medians over rounds.
import { startApp, startRelay } from './app.mjs';
import { connectClients, Ledger, now } from './clients.mjs';
import { until, writeAtRate } from './load.mjs';
import { freshDatabase, query } from './postgres.mjs';
import { percentile, round1, spread } from './stats.mjs';
import { cpuMeter } from './usage.mjs';

const RELAY_TRIGGER = `
  CREATE FUNCTION bench_relay() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN PERFORM pg_notify('bench_relay', row_to_json(NEW)::text); RETURN NEW; END $$;
  CREATE TRIGGER invoices_bench_relay AFTER INSERT ON invoices FOR EACH ROW EXECUTE FUNCTION bench_relay();`;

/** Runs by `${target}@${rate}` (target rowcast or relay), each summarised over its rounds. */
export async function pushAgainstRelay(postgres, name, { seconds, rounds, clients, rates }) {
  const db = await freshDatabase(postgres, name);
  const runs = {};
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const rate of rates) {
        for (const target of ['rowcast', 'relay']) {
          const result = await measure(db, { postgres, target, rate, seconds, clients, prefix: `${target}-${rate}-${round}` });
          (runs[`${target}@${rate}`] ??= []).push(result);
          const reasons = Object.entries(result.disconnects).map(([reason, n]) => `${n} ${reason}`);
          console.error(
            `  ${name} round ${round} ${target} ${rate}/s: p50 ${round1(result.p50)} ms, p99 ${round1(result.p99)} ms, ` +
              `written ${result.writtenPerSecond}/s, delivered ${result.delivered}/${result.expected} (${result.deliveredPerSecond}/s), ` +
              `${result.dropped} clients dropped${reasons.length ? ` (${reasons.join(', ')})` : ''}; ` +
              `CPU s/s while writing: server ${result.cpu.app} (waiting for its core ${result.cpu.appWaitingForCpu}), ` +
              `PostgreSQL ${result.cpu.postgres}, clients ${result.cpu.bench}`,
          );
        }
      }
    }
  } finally {
    await db.drop();
  }
  return { clients, seconds, rounds, runs: Object.fromEntries(Object.entries(runs).map(([key, results]) => [key, summarize(results)])) };
}

async function measure(db, { postgres, target, rate, seconds, clients, prefix }) {
  const sql = (text) => query(db.url, text);
  // The relay's clients get the rows from its own trigger; capture off, so writes pay for one only.
  if (target === 'relay') await sql(`SELECT capture.disable('invoices'); ${RELAY_TRIGGER}`);
  const server = target === 'relay' ? await startRelay(db.url) : await startApp(db.url);
  const ledger = new Ledger();
  const group = await connectClients(server.base, clients, {
    request: { events: ['invoices.created'] },
    onMessage: (n) => ledger.receipt(n.payload.new?.invoice_no),
  });
  try {
    const cpu = cpuMeter(server, [], { postgres });
    const started = now();
    const written = await writeAtRate(db.url, { rate, seconds, ledger, prefix });
    // While the load is offered: read before the wait below, which idles once clients are lost.
    const cpuWhileWriting = cpu();
    const writtenPerSecond = Math.round(written / ((now() - started) / 1000));
    const expected = written * clients;
    await until(() => ledger.received >= expected, 30_000);
    // From the first write to the last receipt, but never shorter than the writing itself.
    const elapsed = (Math.max(ledger.lastAt, started + seconds * 1000) - started) / 1000;
    // Copied before close(), whose own disconnects are not drops.
    const disconnects = { ...group.disconnects };
    return {
      // CPU seconds per second, while the writer ran, of the server (app or relay; and how long
      // its thread waited for its core), of the benchmark's PostgreSQL and of this process (clients,
      // writer); the writer's own rate (the relay's NOTIFY can hold it below the rate asked).
      cpu: cpuWhileWriting,
      writtenPerSecond,
      p50: percentile(ledger.latencies, 0.5),
      p99: percentile(ledger.latencies, 0.99),
      delivered: ledger.received,
      expected,
      deliveredPerSecond: Math.round(ledger.received / elapsed),
      // Clients whose connection ended before the run did (reconnection is off: what they missed
      // counts as lost), by Socket.IO's reason; those told SLOW_CONSUMER first are among them.
      dropped: Object.values(disconnects).reduce((sum, n) => sum + n, 0),
      droppedSlow: group.notices.SLOW_CONSUMER ?? 0,
      disconnects,
      peakRssMb: server.peakRssMb(),
    };
  } finally {
    group.close();
    await server.stop();
    if (target === 'relay') await sql(`DROP TRIGGER invoices_bench_relay ON invoices; DROP FUNCTION bench_relay(); SELECT capture.enable('invoices');`);
  }
}

function summarize(results) {
  const total = (field) => results.reduce((sum, r) => sum + r[field], 0);
  return {
    p50: spread(results.map((r) => r.p50)),
    p99: spread(results.map((r) => r.p99)),
    deliveredPerSecond: spread(results.map((r) => r.deliveredPerSecond)),
    lost: results.reduce((sum, r) => sum + (r.expected - r.delivered), 0),
    dropped: total('dropped'),
    droppedSlow: total('droppedSlow'),
    disconnects: results.map((r) => r.disconnects),
    peakRssMb: spread(results.map((r) => r.peakRssMb)),
    writtenPerSecond: spread(results.map((r) => r.writtenPerSecond)),
    cpu: results.map((r) => r.cpu),
  };
}
