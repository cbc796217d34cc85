// Bulk: one UPDATE of 10,000 rows of a captured table, its own transaction, timed with capture on
// and off, the app not running: what the capture trigger adds to one large statement by itself.
// Rounds alternate which goes first, so that a shared machine's drift hits both alike.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { freshDatabase } from '../lib/postgres.mjs';
import { spread } from '../lib/stats.mjs';

export async function bulk(postgres, { rounds, rows = 10_000 }) {
  const db = await freshDatabase(postgres, 'bulk');
  // One connection throughout, opened before anything is timed; autocommit: each statement is its
  // own transaction, so a timed UPDATE includes its commit (and the WAL flush, fsync on).
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const sql = (text) => client.query(text);
  /** The client's wall time of the UPDATE in ms, capture on or off. */
  const update = async (captured) => {
    await sql(`SELECT capture.${captured ? 'enable' : 'disable'}('bench_bulk')`);
    const started = performance.now();
    const { rowCount } = await sql('UPDATE bench_bulk SET n = n + 1');
    const elapsed = performance.now() - started;
    if (rowCount !== rows) throw new Error(`bulk: the UPDATE changed ${rowCount} rows, not ${rows}`);
    // Every run starts from a vacuumed table: the last run's dead row versions (and the journal's
    // new rows, never drained here) must not weigh on the next one.
    await sql('VACUUM bench_bulk, capture.changes');
    return elapsed;
  };
  const off = [];
  const on = [];
  try {
    await sql('CREATE TABLE bench_bulk (id int PRIMARY KEY, n int NOT NULL, note text NOT NULL)');
    // ~100 bytes of text a row, as a realistic row is wide, not just two integers.
    await sql(`INSERT INTO bench_bulk SELECT g, 0, repeat(md5(g::text), 3) FROM generate_series(1, ${rows}) g`);
    await sql('VACUUM ANALYZE bench_bulk');
    // Untimed, once each way: the trigger function compiled in this session, the table in the cache.
    await update(true);
    await update(false);
    for (let round = 1; round <= rounds; round++) {
      for (const captured of round % 2 ? [false, true] : [true, false]) (captured ? on : off).push(await update(captured));
      console.error(`  bulk round ${round}: capture off ${off.at(-1).toFixed(1)} ms, on ${on.at(-1).toFixed(1)} ms`);
    }
  } finally {
    await client.end();
    await db.drop();
  }
  return {
    rows,
    offMs: spread(off),
    onMs: spread(on),
    // Per round, then the median: drift between rounds cancels out.
    ratio: spread(on.map((ms, i) => ms / off[i])),
  };
}
