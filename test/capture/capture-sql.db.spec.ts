import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TestDatabase } from '../support/database.js';

interface Change {
  schema_name: string;
  table_name: string;
  op: string;
  row_pk: Record<string, unknown>;
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
  changed_columns: string[] | null;
  actor: string;
}

/** The journal as plain SQL clients fill it: no app, no listener. */
describe('capture triggers (direct SQL)', () => {
  let db: TestDatabase;
  let sql: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = db.sql;
    await sql.query(`CREATE TABLE orders (id int PRIMARY KEY, status text, total int, note text)`);
    await sql.query(`CREATE TABLE lines (order_id int, line int, sku text, PRIMARY KEY (order_id, line))`);
  });
  afterAll(() => db.drop());

  async function journal(table: string): Promise<Change[]> {
    const { rows } = await sql.query<Change>(
      // The writer no longer stores changed columns; capture.payload() (the log's SQL view) computes them.
      `SELECT schema_name, table_name, op, row_pk, old, new, capture.payload(c)->'changedColumns' AS changed_columns, actor
       FROM capture.changes c WHERE table_name = $1 ORDER BY id`,
      [table],
    );
    return rows;
  }

  it('captures invoices and items from the migration on, with the totals the triggers wrote', async () => {
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('C-1') RETURNING id`);
    await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 50)`, [rows[0].id]);
    const items = await journal('invoice_items');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ op: 'INSERT', old: null, new: { quantity: 2, amount_per_unit: 50, total_amount: 100 } });
    const invoices = await journal('invoices');
    expect(invoices.map((change) => change.op)).toEqual(['INSERT', 'UPDATE']);
    expect(invoices[1]).toMatchObject({
      row_pk: { id: rows[0].id },
      changed_columns: ['total_amount', 'updated_at'],
      old: { total_amount: 0 },
      new: { total_amount: 100 },
    });
  });

  it('records updates with their changed columns and deletes with the old row', async () => {
    await sql.query(`SELECT capture.enable('orders')`);
    await sql.query(`INSERT INTO orders VALUES (1, 'new', 10, 'a')`);
    await sql.query(`UPDATE orders SET status = 'paid', total = 12 WHERE id = 1`);
    await sql.query(`DELETE FROM orders WHERE id = 1`);
    const changes = await journal('orders');
    expect(changes.map(({ op, changed_columns }) => [op, changed_columns])).toEqual([
      ['INSERT', null],
      ['UPDATE', ['status', 'total']],
      ['DELETE', null],
    ]);
    expect(changes[2]).toMatchObject({ new: null, old: { id: 1, status: 'paid', total: 12 }, row_pk: { id: 1 } });
  });

  it('skips an update that changes nothing', async () => {
    await sql.query(`INSERT INTO orders VALUES (2, 'new', 1, 'x')`);
    await sql.query(`UPDATE orders SET status = 'new' WHERE id = 2`);
    await sql.query(`UPDATE orders SET note = note WHERE id = 2`);
    expect((await journal('orders')).filter((change) => change.row_pk.id === 2).map((c) => c.op)).toEqual(['INSERT']);
  });

  it('honours a column filter for updates only', async () => {
    await sql.query(`SELECT capture.enable('orders', ARRAY['status', 'total'])`);
    await sql.query(`INSERT INTO orders VALUES (3, 'new', 1, 'x')`);
    await sql.query(`UPDATE orders SET note = 'ignored' WHERE id = 3`);
    await sql.query(`UPDATE orders SET note = 'kept', status = 'paid' WHERE id = 3`);
    await sql.query(`DELETE FROM orders WHERE id = 3`);
    const changes = (await journal('orders')).filter((change) => (change.new ?? change.old)!.id === 3);
    expect(changes.map(({ op, changed_columns }) => [op, changed_columns])).toEqual([
      ['INSERT', null],
      ['UPDATE', ['note', 'status']],
      ['DELETE', null],
    ]);
    const { rows } = await sql.query(`SELECT columns FROM capture.tables WHERE table_name = 'orders'`);
    expect(rows).toEqual([{ columns: ['status', 'total'] }]);
  });

  it('takes the actor from rowcast.actor, else the session user', async () => {
    await sql.query(`INSERT INTO orders VALUES (4, 'new', 1, 'x')`);
    const client = await sql.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('rowcast.actor', 'alice', true)`);
      await client.query(`UPDATE orders SET status = 'paid' WHERE id = 4`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const changes = (await journal('orders')).filter((change) => (change.new ?? change.old)!.id === 4);
    expect(changes.map((change) => change.actor)).toEqual([expect.any(String), 'alice']);
    const { rows } = await sql.query(`SELECT session_user AS name`);
    expect(changes[0].actor).toBe(rows[0].name);
  });

  it('keys composite primary keys by every key column', async () => {
    await sql.query(`SELECT capture.enable('lines')`);
    await sql.query(`INSERT INTO lines VALUES (7, 2, 'sku')`);
    expect((await journal('lines'))[0].row_pk).toEqual({ order_id: 7, line: 2 });
  });

  it('journals nothing of a rolled-back transaction or savepoint', async () => {
    const client = await sql.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO orders VALUES (5, 'gone', 1, 'x')`);
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await client.query(`INSERT INTO orders VALUES (6, 'kept', 1, 'x')`);
      await client.query('SAVEPOINT s');
      await client.query(`INSERT INTO orders VALUES (7, 'gone', 1, 'x')`);
      await client.query('ROLLBACK TO SAVEPOINT s');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const ids = (await journal('orders')).map((change) => (change.new ?? change.old)!.id);
    expect(ids).toContain(6);
    expect(ids).not.toContain(5);
    expect(ids).not.toContain(7);
  });

  it('journals each row of a multi-row statement once, with its own old row, even when keys change', async () => {
    await sql.query(`CREATE TABLE moves (id int PRIMARY KEY, label text)`);
    await sql.query(`SELECT capture.enable('moves')`);
    await sql.query(`INSERT INTO moves SELECT g, 'v' || g FROM generate_series(1, 200) g`);
    // Rows 1–100 move to new keys; 101–200 are "updated" to the value they have: no change.
    await sql.query(`UPDATE moves SET id = CASE WHEN id <= 100 THEN id + 1000 ELSE id END, label = CASE WHEN id <= 100 THEN 'moved' || id ELSE label END`);
    const changes = await journal('moves');
    expect(changes.filter((change) => change.op === 'INSERT')).toHaveLength(200);
    const updates = changes.filter((change) => change.op === 'UPDATE');
    expect(updates).toHaveLength(100);
    for (const update of updates) {
      expect(update.new).toEqual({ id: (update.old!.id as number) + 1000, label: `moved${update.old!.id}` });
      expect(update.row_pk).toEqual({ id: update.new!.id });
      expect(update.changed_columns).toEqual(['id', 'label']);
    }
  });

  it('counts the backlog exactly while a batch is taken in parts, and quickly however many transactions it holds', async () => {
    const backlog = async () => (await sql.query(`SELECT capture.backlog()::int AS n`)).rows[0].n;
    const take = async (rows: number) => (await sql.query(`SELECT count(*)::int AS n FROM capture.take_batch($1, 1000000000)`, [rows])).rows[0].n;
    while ((await take(100_000)) > 0); // what earlier tests left
    await sql.query(`CREATE TABLE counted (id int PRIMARY KEY)`);
    await sql.query(`SELECT capture.enable('counted')`);
    for (let i = 0; i < 3; i++) await sql.query(`INSERT INTO counted SELECT g FROM generate_series($1::int, $1::int + 4) g`, [i * 5]);
    expect(await backlog()).toBe(15);
    expect(await take(4)).toBe(4);
    expect(await backlog()).toBe(11);
    await sql.query(`INSERT INTO counted VALUES (100)`); // commits after the batch's snapshot
    expect(await backlog()).toBe(12);
    expect(await take(10)).toBe(10);
    expect(await backlog()).toBe(2);
    expect(await take(10)).toBe(1); // the rest of the batch...
    expect(await take(10)).toBe(1); // ...then the next one
    expect(await backlog()).toBe(0);

    // 20,000 one-row transactions, a batch of them in progress: counting stays an index walk.
    await sql.query(`CREATE PROCEDURE many() LANGUAGE plpgsql AS $$
      BEGIN FOR i IN 1000..20999 LOOP INSERT INTO counted VALUES (i); COMMIT; END LOOP; END $$`);
    await sql.query(`CALL many()`);
    expect(await take(10)).toBe(10);
    const started = Date.now();
    expect(await backlog()).toBe(19_990);
    expect(Date.now() - started).toBeLessThan(2_000);
    while ((await take(100_000)) > 0);
  });

  it('journals a row of any size (no NOTIFY payload limit)', async () => {
    await sql.query(`INSERT INTO orders VALUES (8, 'big', 1, repeat('x', 100000))`);
    const change = (await journal('orders')).find((c) => c.new?.id === 8)!;
    expect((change.new!.note as string).length).toBe(100000);
  });

  it('captures a table without a primary key with a warning, keyed by its whole row', async () => {
    await sql.query(`CREATE TABLE nokey (a int, b text)`);
    const warnings: string[] = [];
    const client = await sql.connect();
    client.on('notice', (notice) => warnings.push(notice.message ?? ''));
    try {
      await client.query(`SELECT capture.enable('nokey')`);
    } finally {
      client.release();
    }
    expect(warnings).toEqual(['capture.enable: nokey has no primary key; its notifications name the whole row as its key']);
    await sql.query(`INSERT INTO nokey VALUES (1, 'x')`);
    expect((await journal('nokey')).map((c) => c.row_pk)).toEqual([{ a: 1, b: 'x' }]);
    const { rows } = await sql.query(`SELECT key FROM capture.tables WHERE table_name = 'nokey'`);
    expect(rows).toEqual([{ key: null }]);
    await sql.query(`SELECT capture.disable('nokey')`);
  });

  it('refuses unknown columns and the journal itself, clearly', async () => {
    await expect(sql.query(`SELECT capture.enable('orders', ARRAY['nope'])`)).rejects.toThrow('orders has no column nope');
    await expect(sql.query(`SELECT capture.enable('capture.changes')`)).rejects.toThrow('cannot be captured');
    await expect(sql.query(`SELECT capture.enable('no_such_table')`)).rejects.toThrow('does not exist');
  });

  it('stops capturing a table when disabled', async () => {
    await sql.query(`SELECT capture.disable('orders')`);
    await sql.query(`INSERT INTO orders VALUES (9, 'quiet', 1, 'x')`);
    expect((await journal('orders')).some((change) => change.new?.id === 9)).toBe(false);
    const { rows } = await sql.query(`SELECT table_name FROM capture.tables ORDER BY 1`);
    expect(rows.map((row) => row.table_name)).toEqual(['counted', 'invoice_items', 'invoices', 'lines', 'moves']);
  });
});
