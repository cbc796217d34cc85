// The notification log as the scale scenario fills and watches it. Filled fast: big INSERT …
// SELECT generate_series transactions into captured tables, each a fixed mix of tables, events and
// actors, so that every filter the scenario reads keeps the same density whatever the log's size.
// Watched through cheap looks at its tables (index probes), never through the app.
import pg from 'pg';
import { until } from './load.mjs';

/** Notifications one fill transaction makes, and its mix (the filters' densities follow from it). */
export const CHUNK = 20_000;
export const MIX = {
  // invoices.created by 'loader', in two statements around the others
  loaderInvoices: 15_800,
  // invoices.created by 'alice': the actor filter's 1 %
  aliceInvoices: 200,
  // invoice_items.created over 50 of the chunk's invoices: 50 invoices.updated from the totals trigger
  items: 3_750,
  itemInvoices: 50,
  // bench_sparse.created: the sparse table filter's 1 %
  sparse: 200,
};
export const SPARSE_TABLE = 'bench_sparse';

/** The second captured table, for the sparse filter. */
export async function createSparseTable(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE ${SPARSE_TABLE} (id bigint PRIMARY KEY, note text NOT NULL)`);
    await client.query(`SELECT capture.enable('${SPARSE_TABLE}')`);
  } finally {
    await client.end();
  }
}

/**
 * One open connection that writes fill transactions; each call of `chunk()` commits one and returns
 * how many journal rows (so notifications, once drained) it wrote, counted in the journal itself.
 */
export async function logFiller(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let k = 0;
  let rareId;
  const journalHead = async () => Number((await client.query('SELECT coalesce(max(id), 0) AS id FROM capture.changes')).rows[0].id);
  const counted = async (write) => {
    const before = await journalHead();
    await client.query(write);
    return Number((await client.query('SELECT count(*) AS n FROM capture.changes WHERE id > $1', [before])).rows[0].n);
  };
  const half = MIX.loaderInvoices / 2;
  return {
    chunk() {
      k++;
      const invoices = (from, count, prefix = 'F') =>
        `INSERT INTO invoices (invoice_no) SELECT '${prefix}${k}-' || g FROM generate_series(${from}, ${from + count - 1}) g;`;
      return counted(`BEGIN;
        SET LOCAL rowcast.actor = 'loader';
        ${invoices(1, half)}
        SELECT set_config('rowcast.actor', 'alice', true);
        ${invoices(1, MIX.aliceInvoices, 'A')}
        SELECT set_config('rowcast.actor', 'loader', true);
        INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit)
          SELECT i.id, 1 + g % 5, 100
          FROM (SELECT id FROM invoices WHERE invoice_no IN (SELECT 'F${k}-' || g FROM generate_series(1, ${MIX.itemInvoices}) g)) i
          CROSS JOIN generate_series(1, ${MIX.items / MIX.itemInvoices}) g;
        INSERT INTO ${SPARSE_TABLE} (id, note) SELECT ${k * MIX.sparse} + g, 'sparse' FROM generate_series(1, ${MIX.sparse}) g;
        ${invoices(half + 1, MIX.loaderInvoices - half)}
        COMMIT;`);
    },
    /**
     * The rare filter's row: created by the first call, then updated; each call makes two changes
     * of it (its own transaction, actor 'auditor'). Returns its id (the entityId to filter by).
     */
    async touchRare() {
      const create = rareId === undefined;
      if (create) rareId = (await client.query(`INSERT INTO invoices (invoice_no) VALUES ('RARE-0') RETURNING id`)).rows[0].id;
      for (let i = 0; i < (create ? 1 : 2); i++) {
        await client.query(`BEGIN; SET LOCAL rowcast.actor = 'auditor';
          UPDATE invoices SET invoice_no = 'RARE-' || (split_part(invoice_no, '-', 2)::int + 1) WHERE id = '${rareId}'; COMMIT;`);
      }
      return rareId;
    },
    end: () => client.end(),
  };
}

/** Cheap reads of where the log stands: each one or two index probes. */
export function logReader(sql) {
  const one = async (text, values) => Number((await sql(text, values))[0].n);
  const reader = {
    lastId: () => one('SELECT coalesce(max(last_id), 0) AS n FROM notification_batches'),
    purgedThrough: () => one('SELECT purged_through AS n FROM notification_retention WHERE id = 1'),
    /** The last id and how many batches hold the log (a count of a few thousand index entries). */
    batches: async () => {
      const [row] = await sql('SELECT coalesce(max(last_id), 0)::bigint AS last_id, count(*)::int AS batches FROM notification_batches');
      return { lastId: Number(row.last_id), batches: row.batches };
    },
    journalHead: () => one('SELECT coalesce(max(id), 0) AS n FROM capture.changes'),
    /** Notifications in the log: ids are consecutive, and retention deletes from the head. */
    present: async () => (await reader.lastId()) - (await reader.purgedThrough()),
    /** Waits until every journal row up to `head` is in the log (the newest batch drained through it). */
    async drained(head, timeoutMs = 600_000) {
      const through = () =>
        one('SELECT coalesce((SELECT drained_through FROM notification_batches ORDER BY last_id DESC LIMIT 1), 0) AS n');
      if (!(await until(async () => (await through()) >= head, timeoutMs))) {
        throw new Error(`the journal was not drained through ${head} within ${timeoutMs / 1000} s`);
      }
    },
    /**
     * Waits until the log's index (LogIndexer, in the background) covers every notification up to
     * the log's end, from its start; returns the seconds it took (0 on a branch without an index).
     */
    async indexed(timeoutMs = 600_000) {
      const [has] = await sql(`SELECT to_regclass('notification_lookups') IS NOT NULL AS yes`);
      if (!has.yes) return 0;
      const started = performance.now();
      const behind = () =>
        one(`SELECT count(*) AS n FROM notification_lookups l
             WHERE l.indexed_through IS NULL OR l.indexed_through < (SELECT coalesce(max(last_id), 0) FROM notification_batches)
                OR l.covered_after > coalesce((SELECT first_id - 1 FROM notification_batches ORDER BY last_id LIMIT 1), 0)`);
      if (!(await until(async () => (await behind()) === 0, timeoutMs))) throw new Error(`the log was not indexed within ${timeoutMs / 1000} s`);
      return Math.round((performance.now() - started) / 100) / 10;
    },
    /**
     * The batches after id `after`: how many, their notifications, and the drain rate between the
     * first batch's transaction and the last's (the last batch's rows were drained after that span).
     */
    async drainedAfter(after) {
      const [row] = await sql(
        `SELECT count(*)::int AS batches, sum(cardinality(change_ids))::int AS rows,
                (sum(cardinality(change_ids)) - (SELECT cardinality(change_ids) FROM notification_batches ORDER BY last_id DESC LIMIT 1))::int AS spanned,
                extract(epoch FROM max(created_at) - min(created_at))::float8 AS seconds
         FROM notification_batches WHERE last_id > $1`,
        [after],
      );
      return { batches: row.batches, rows: row.rows, seconds: row.seconds, perSecond: Math.round(row.spanned / row.seconds) };
    },
  };
  return reader;
}
