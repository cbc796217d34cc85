import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataSourceOptions } from '../../src/database/data-source.options.js';
import { migrations } from '../../src/database/migrations.js';
import { runMigrations } from '../../src/database/run-migrations.js';
import { createTestApp, TestApp } from '../support/app.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { connectClient } from '../support/socket.js';

/** The migrations as they were before one write per change (issue 10). */
const BEFORE = migrations.slice(0, migrations.findIndex((m) => m.name === 'OneWritePerChange1764100000000'));

/**
 * What the drainer before issue 10 did with a batch, in SQL: one notifications row per journal row
 * (the payload as it built it), its transactions' pending marks gone.
 */
const OLD_DRAIN = `
  WITH drained AS (
    DELETE FROM capture.pending p WHERE p.tx IN (SELECT tx FROM capture.changes WHERE coalesce(new, old)->>'invoice_no' LIKE $1)
    RETURNING p.tx, p.seq)
  INSERT INTO notifications (change_id, event, table_name, entity_id, payload)
  SELECT c.id, c.table_name || CASE c.op WHEN 'INSERT' THEN '.created' WHEN 'UPDATE' THEN '.updated' ELSE '.deleted' END,
         c.table_name, c.row_pk->>'id',
         jsonb_build_object('schema', c.schema_name, 'table', c.table_name, 'op', c.op, 'pk', c.row_pk, 'new', c.new,
                            'old', c.old, 'changedColumns', to_jsonb(c.changed_columns), 'actor', c.actor, 'txId', c.tx::text,
                            'changedAt', to_char(c.changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  FROM drained d JOIN capture.changes c ON c.tx = d.tx
  ORDER BY d.seq, c.id`;

describe('upgrading a database from before one write per change', () => {
  let db: TestDatabase;
  let t: TestApp | undefined;
  beforeAll(async () => {
    db = await createTestDatabase({ template: 'template0' });
  });
  afterAll(async () => {
    await t?.close();
    await db.drop();
  });

  it('keeps old notifications readable, drains what was pending, and resumes old cursors with no gap or duplicate', async () => {
    const old = new DataSource({ ...buildDataSourceOptions({ url: db.url, poolSize: 1 }), migrations: BEFORE, logging: false });
    await old.initialize();
    await old.runMigrations({ transaction: 'each' });
    await old.destroy();
    const sql = db.sql;
    // Drained by the old drainer: 20 invoices (40 notifications with their items), then 5 more
    // transactions still pending at the upgrade.
    for (let i = 0; i < 20; i++) {
      const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [`UP-old-${i}`]);
      await sql.query(`UPDATE invoices SET invoice_no = $2 WHERE id = $1`, [rows[0].id, `UP-old-${i}-renamed`]);
    }
    await sql.query(OLD_DRAIN, ['UP-old-%']);
    for (let i = 0; i < 5; i++) await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`UP-pending-${i}`]);
    const { rows: before } = await sql.query(`SELECT n.id::text, n.payload FROM notifications n ORDER BY n.id`);
    expect(before).toHaveLength(40);
    const cursor = before[24].id; // a client had received up to here

    expect(await runMigrations(db.url)).toEqual(migrations.slice(BEFORE.length).map((migration) => migration.name));
    t = await createTestApp({ db, listen: true });

    // Old notifications read as before, over REST.
    const { body } = await t.http.get('/notifications').query({ limit: 1000 }).expect(200);
    expect(body.data.slice(0, 40).map((n: { id: string; payload: unknown }) => [n.id, n.payload])).toEqual(
      before.map((row) => [row.id, row.payload]),
    );
    // The pending changes follow them, in order.
    expect(body.data.slice(40).map((n: { payload: { new: { invoice_no: string } } }) => n.payload.new.invoice_no)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `UP-pending-${i}`),
    );
    expect(Number(body.data[40].id)).toBeGreaterThan(Number(before[39].id));

    // A client holding the old cursor gets everything after it, then live ones.
    const client = await connectClient(t.url);
    try {
      expect(await client.subscribe({ since: cursor })).toMatchObject({ ok: true, cursor });
      await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('UP-new')`);
      const received = await client.waitFor(15 + 5 + 1);
      const ids = received.map((n) => n.id);
      const { body: all } = await t.http.get('/notifications').query({ after: cursor, limit: 1000 }).expect(200);
      expect(ids).toEqual(all.data.map((n: { id: string }) => n.id));
      expect(new Set(ids).size).toBe(ids.length);
      expect(received.at(-1)!.payload.new!.invoice_no).toBe('UP-new');
    } finally {
      client.close();
    }
  });
});
