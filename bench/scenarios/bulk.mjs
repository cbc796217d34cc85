// Bulk: one UPDATE of 10,000 rows of a captured table, its own transaction, timed with capture off,
// on, and on without the old row (`keep_old => false`), the app not running: what the capture
// trigger adds to one large statement by itself. Rounds rotate which goes first, so that a shared
// machine's drift hits all three alike.
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
  /** The client's wall time of the UPDATE in ms: capture off, on, or on without the old row ('lean'). */
  const update = async (mode) => {
    await sql(mode === 'off' ? `SELECT capture.disable('bench_bulk')` : `SELECT capture.enable('bench_bulk', NULL, ${mode === 'on'})`);
    const started = performance.now();
    const { rowCount } = await sql('UPDATE bench_bulk SET n = n + 1');
    const elapsed = performance.now() - started;
    if (rowCount !== rows) throw new Error(`bulk: the UPDATE changed ${rowCount} rows, not ${rows}`);
    // Every run starts from a vacuumed table: the last run's dead row versions (and the journal's
    // new rows, never drained here) must not weigh on the next one.
    await sql('VACUUM bench_bulk, capture.changes');
    return elapsed;
  };
  const times = { off: [], on: [], lean: [] };
  const modes = Object.keys(times);
  try {
    await sql('CREATE TABLE bench_bulk (id int PRIMARY KEY, n int NOT NULL, note text NOT NULL)');
    // ~100 bytes of text a row, as a realistic row is wide, not just two integers.
    await sql(`INSERT INTO bench_bulk SELECT g, 0, repeat(md5(g::text), 3) FROM generate_series(1, ${rows}) g`);
    await sql('VACUUM ANALYZE bench_bulk');
    // Untimed, once each way: the trigger function compiled in this session, the table in the cache.
    for (const mode of modes) await update(mode);
    for (let round = 1; round <= rounds; round++) {
      for (let i = 0; i < modes.length; i++) {
        const mode = modes[(round + i) % modes.length];
        times[mode].push(await update(mode));
      }
      console.error(`  bulk round ${round}: ${modes.map((mode) => `${mode} ${times[mode].at(-1).toFixed(1)} ms`).join(', ')}`);
    }
  } finally {
    await client.end();
    await db.drop();
  }
  return {
    rows,
    offMs: spread(times.off),
    onMs: spread(times.on),
    leanMs: spread(times.lean),
    // Per round, then the median: drift between rounds cancels out.
    ratio: spread(times.on.map((ms, i) => ms / times.off[i])),
    leanRatio: spread(times.lean.map((ms, i) => ms / times.off[i])),
  };
}
