// Write throughput with 8 writers, rounds alternating A, B, C, D so that a shared machine's drift
// hits all four alike:
//   A capture off · B capture on, app stopped (the triggers' own cost) · C capture on, the app
//   draining and pushing to one subscribed client · D the common pattern: a per-row
//   pg_notify(row_to_json(NEW)) trigger and one listener.
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from '../lib/app.mjs';
import { connectClients } from '../lib/clients.mjs';
import { freshDatabase, query } from '../lib/postgres.mjs';
import { spread } from '../lib/stats.mjs';
import { driverName, writeTps } from '../lib/writers.mjs';

const NOTIFY_TRIGGER = `
  CREATE FUNCTION bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN PERFORM pg_notify('bench_writes', row_to_json(NEW)::text); RETURN NEW; END $$;
  CREATE TRIGGER invoice_items_bench_notify AFTER INSERT OR UPDATE ON invoice_items
    FOR EACH ROW EXECUTE FUNCTION bench_notify();
  CREATE TRIGGER invoices_bench_notify AFTER INSERT OR UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION bench_notify();`;
const DROP_NOTIFY = `DROP TRIGGER invoice_items_bench_notify ON invoice_items;
  DROP TRIGGER invoices_bench_notify ON invoices; DROP FUNCTION bench_notify();`;

export async function writes(postgres, { seconds, rounds, profile = false }) {
  const db = await freshDatabase(postgres, 'writes');
  const sql = (text) => query(db.url, text);
  if (profile) await sql('CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()');
  const capture = (on) => sql(`SELECT capture.${on ? 'enable' : 'disable'}('invoices'), capture.${on ? 'enable' : 'disable'}('invoice_items')`);
  // Journal rows not yet drained into notifications.
  const backlog = async () => Number((await sql('SELECT capture.backlog() AS n'))[0].n);
  const drained = async () => {
    while ((await backlog()) > 10) await sleep(200);
  };
  await sql(`INSERT INTO invoices (invoice_no) SELECT 'BENCH-' || g FROM generate_series(1, 100) g`);
  const tps = { A: [], B: [], C: [], D: [] };
  let statements;
  try {
    for (let round = 1; round <= rounds; round++) {
      await capture(false);
      tps.A.push(await writeTps(db.url, seconds));

      await capture(true);
      tps.B.push(await writeTps(db.url, seconds));
      // Where B's time goes: the statements run by the writers with capture on (triggers included).
      if (profile && round === 1) statements = await topStatements(db.url);

      const app = await startApp(db.url);
      let pushed = 0;
      const client = await connectClients(app.base, 1, { onMessage: () => pushed++ });
      await drained(); // B's backlog first: C measures the steady state
      tps.C.push(await writeTps(db.url, seconds));
      await drained();
      client.close();
      await app.stop();

      await capture(false);
      await sql(NOTIFY_TRIGGER);
      const listener = new pg.Client({ connectionString: db.url });
      await listener.connect();
      let heard = 0;
      listener.on('notification', () => heard++);
      await listener.query('LISTEN bench_writes');
      tps.D.push(await writeTps(db.url, seconds));
      await listener.end();
      await sql(DROP_NOTIFY);
      console.error(`  writes round ${round}: A ${tps.A.at(-1)} B ${tps.B.at(-1)} C ${tps.C.at(-1)} D ${tps.D.at(-1)} tps (C pushed ${pushed}, D heard ${heard})`);
    }
  } finally {
    await db.drop();
  }
  const ratios = (x, y) => tps[x].map((value, i) => value / tps[y][i]);
  return {
    driver: driverName(),
    seconds,
    tps: Object.fromEntries(Object.entries(tps).map(([key, values]) => [key, spread(values)])),
    // Ratios per round (rounds alternate), then their median: drift between rounds cancels out.
    ratios: { 'B/A': spread(ratios('B', 'A')), 'C/A': spread(ratios('C', 'A')), 'C/D': spread(ratios('C', 'D')) },
    ...(statements && { profileAfterB: statements }),
  };
}

/** pg_stat_statements after rounds A and B, by total execution time (top-level and nested). */
async function topStatements(url) {
  const rows = await query(
    url,
    `SELECT toplevel, calls, round(total_exec_time::numeric, 1) AS total_ms, round(mean_exec_time::numeric, 4) AS mean_ms,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
     FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     ORDER BY total_exec_time DESC LIMIT 15`,
  );
  await query(url, 'SELECT pg_stat_statements_reset()');
  return rows.map((row) => ({ ...row, calls: Number(row.calls), total_ms: Number(row.total_ms), mean_ms: Number(row.mean_ms) }));
}
