import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TestDatabase } from '../support/database.js';

interface Change {
  id: string;
  schema_name: string;
  table_name: string;
  op: string;
  row_pk: Record<string, unknown> | null;
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
}

const shape = (table: string, key: string[] | null, columns: [string, string][], schema = 'public') => ({
  schema,
  table,
  key,
  columns: columns.map(([name, type]) => ({ name, type })),
});

/**
 * Capture follows the schema in the DDL's own transaction: every ALTER TABLE PostgreSQL accepts on
 * a captured table leaves its writes working, its journal rows name the table and key as they are
 * now, and a SCHEMA_CHANGE row marks the point in the stream. Plain SQL clients, no app.
 */
describe('capture follows schema changes (direct SQL)', () => {
  let db: TestDatabase;
  let sql: pg.Pool;
  let mark = '0';

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = db.sql;
  });
  afterAll(() => db.drop());

  /** Journal rows written since the last call. */
  async function since(): Promise<Change[]> {
    const { rows } = await sql.query<Change>(
      `SELECT id::text, schema_name, table_name, op, row_pk, old, new FROM capture.changes WHERE id > $1 ORDER BY id`,
      [mark],
    );
    if (rows.length) mark = rows[rows.length - 1].id;
    return rows;
  }

  async function captured(): Promise<{ table: string; key: string[] | null; columns: string[] | null }[]> {
    const { rows } = await sql.query(
      `SELECT capture.qualified_name(schema_name, table_name) AS table, key, columns FROM capture.tables ORDER BY 1`,
    );
    return rows;
  }

  /** Runs `text` on one connection, returning the warnings PostgreSQL sent. */
  async function warningsOf(text: string): Promise<string[]> {
    const warnings: string[] = [];
    const client = await sql.connect();
    const onNotice = (notice: { message?: string }) => warnings.push(notice.message ?? '');
    client.on('notice', onNotice);
    try {
      await client.query(text);
    } finally {
      client.off('notice', onNotice);
      client.release();
    }
    return warnings;
  }

  it('renaming the key column: writes keep working and name the key as it is now', async () => {
    await sql.query(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
    await sql.query(`SELECT capture.enable('t')`);
    await sql.query(`INSERT INTO t VALUES (1, 'a')`);
    await sql.query(`ALTER TABLE t RENAME COLUMN id TO tid`);
    await sql.query(`INSERT INTO t VALUES (2, 'b')`);
    await sql.query(`UPDATE t SET v = 'c' WHERE tid = 1`);
    await sql.query(`DELETE FROM t WHERE tid = 2`);
    const changes = await since();
    expect(changes.map(({ op, row_pk }) => [op, row_pk])).toEqual([
      ['INSERT', { id: 1 }],
      ['SCHEMA_CHANGE', null],
      ['INSERT', { tid: 2 }],
      ['UPDATE', { tid: 1 }],
      ['DELETE', { tid: 2 }],
    ]);
    expect(changes[1].new).toEqual({
      command: 'ALTER TABLE',
      before: shape('t', ['id'], [['id', 'integer'], ['v', 'text']]),
      after: shape('t', ['tid'], [['tid', 'integer'], ['v', 'text']]),
    });
    expect(await captured()).toContainEqual({ table: 't', key: ['tid'], columns: null });
  });

  it('renaming the table: still captured and listed under its new name, notifications name it, disable takes the new name', async () => {
    await sql.query(`ALTER TABLE t RENAME TO t2`);
    await sql.query(`INSERT INTO t2 VALUES (3, 'd')`);
    const changes = await since();
    expect(changes.map(({ table_name, op }) => [table_name, op])).toEqual([
      ['t', 'SCHEMA_CHANGE'],
      ['t2', 'INSERT'],
    ]);
    expect((changes[0].new!.after as { table: string }).table).toBe('t2');
    expect((await captured()).map((c) => c.table)).toContain('t2');
    expect((await captured()).map((c) => c.table)).not.toContain('t');
  });

  it('moving the table to another schema: the notifications and the catalog follow', async () => {
    await sql.query(`CREATE SCHEMA archive`);
    await sql.query(`ALTER TABLE t2 SET SCHEMA archive`);
    await sql.query(`INSERT INTO archive.t2 VALUES (4, 'e')`);
    const changes = await since();
    expect(changes.map(({ schema_name, table_name, op }) => [schema_name, table_name, op])).toEqual([
      ['public', 't2', 'SCHEMA_CHANGE'],
      ['archive', 't2', 'INSERT'],
    ]);
    expect((await captured()).map((c) => c.table)).toContain('archive.t2');
    await sql.query(`ALTER TABLE archive.t2 SET SCHEMA public`);
    await since();
  });

  it('adding, dropping and retyping columns: writes work, rows show the columns as they are, each change is told once', async () => {
    await sql.query(`ALTER TABLE t2 ADD COLUMN n int DEFAULT 7`);
    await sql.query(`INSERT INTO t2 (tid, v) VALUES (5, 'f')`);
    await sql.query(`ALTER TABLE t2 ALTER COLUMN n TYPE bigint, DROP COLUMN v`);
    await sql.query(`UPDATE t2 SET n = 8 WHERE tid = 5`);
    // Nothing about the table's shape changes: no event.
    await sql.query(`CREATE INDEX t2_n_idx ON t2 (n)`);
    await sql.query(`ALTER INDEX t2_n_idx RENAME TO t2_n_index`);
    const changes = await since();
    expect(changes.map(({ op, new: row }) => [op, op === 'SCHEMA_CHANGE' ? (row!.after as { columns: unknown }).columns : row])).toEqual([
      ['SCHEMA_CHANGE', [{ name: 'tid', type: 'integer' }, { name: 'v', type: 'text' }, { name: 'n', type: 'integer' }]],
      ['INSERT', { tid: 5, v: 'f', n: 7 }],
      ['SCHEMA_CHANGE', [{ name: 'tid', type: 'integer' }, { name: 'n', type: 'bigint' }]],
      ['UPDATE', { tid: 5, n: 8 }],
    ]);
  });

  it('a new primary key: notifications name it from the next write on', async () => {
    await sql.query(`ALTER TABLE t2 DROP CONSTRAINT t_pkey, ADD PRIMARY KEY (tid, n)`);
    await sql.query(`INSERT INTO t2 VALUES (6, 9)`);
    const changes = await since();
    expect(changes.map(({ op, row_pk }) => [op, row_pk])).toEqual([
      ['SCHEMA_CHANGE', null],
      ['INSERT', { tid: 6, n: 9 }],
    ]);
    expect((changes[0].new!.after as { key: string[] }).key).toEqual(['tid', 'n']);
  });

  it('losing the primary key: still captured, keyed by the whole row, with a warning', async () => {
    expect(await warningsOf(`ALTER TABLE t2 DROP CONSTRAINT t2_pkey`)).toEqual([
      'capture: t2 has no primary key now; its notifications name the whole row as its key',
    ]);
    await sql.query(`INSERT INTO t2 VALUES (7, 10)`);
    const changes = await since();
    expect(changes.map(({ op, row_pk }) => [op, row_pk])).toEqual([
      ['SCHEMA_CHANGE', null],
      ['INSERT', { tid: 7, n: 10 }],
    ]);
    expect(await captured()).toContainEqual({ table: 't2', key: null, columns: null });
  });

  it('a key column placed after a dropped column is read right (PostgreSQL misreads it through a subquery)', async () => {
    await sql.query(`CREATE TABLE gap (a int, dropped text, id int PRIMARY KEY, v text)`);
    await sql.query(`ALTER TABLE gap DROP COLUMN dropped`);
    await sql.query(`SELECT capture.enable('gap', ARRAY['v'])`);
    await sql.query(`INSERT INTO gap VALUES (1, 2, 'x'); UPDATE gap SET v = 'y'; UPDATE gap SET a = 3; DELETE FROM gap`);
    expect((await since()).map(({ op, row_pk, old, new: row }) => [op, row_pk, old?.v, row?.v])).toEqual([
      ['INSERT', { id: 2 }, undefined, 'x'],
      ['UPDATE', { id: 2 }, 'x', 'y'],
      ['DELETE', { id: 2 }, 'y', undefined],
    ]);
  });

  it('a column filter follows a renamed column and forgets a dropped one', async () => {
    await sql.query(`CREATE TABLE f (id int PRIMARY KEY, status text, note text)`);
    await sql.query(`SELECT capture.enable('f', ARRAY['status'])`);
    await sql.query(`INSERT INTO f VALUES (1, 'new', 'a')`);
    await sql.query(`ALTER TABLE f RENAME COLUMN status TO state`);
    await sql.query(`UPDATE f SET note = 'b'`); // not watched: not captured
    await sql.query(`UPDATE f SET state = 'paid'`);
    expect((await since()).map(({ op }) => op)).toEqual(['INSERT', 'SCHEMA_CHANGE', 'UPDATE']);
    expect(await captured()).toContainEqual({ table: 'f', key: ['id'], columns: ['state'] });

    expect(await warningsOf(`ALTER TABLE f DROP COLUMN state`)).toEqual([
      "capture: every column of f's filter (state) is gone; every change of it is captured now",
    ]);
    await sql.query(`UPDATE f SET note = 'c'`);
    expect((await since()).map(({ op }) => op)).toEqual(['SCHEMA_CHANGE', 'UPDATE']);
    expect(await captured()).toContainEqual({ table: 'f', key: ['id'], columns: null });
  });

  it('TRUNCATE is a journal row of its own, in order with the rows before and after it', async () => {
    await sql.query(`INSERT INTO f VALUES (2, 'x')`);
    await sql.query(`BEGIN; INSERT INTO f VALUES (3, 'y'); TRUNCATE f; INSERT INTO f VALUES (4, 'z'); COMMIT`);
    expect((await since()).map(({ op, row_pk, old, new: row }) => [op, row_pk, old, row && row.id])).toEqual([
      ['INSERT', { id: 2 }, null, 2],
      ['INSERT', { id: 3 }, null, 3],
      ['TRUNCATE', null, null, null],
      ['INSERT', { id: 4 }, null, 4],
    ]);
  });

  it('TRUNCATE of invoice items: the items are told truncated and the invoices their zeroed totals', async () => {
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('T-1') RETURNING id`);
    await sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 50)`, [rows[0].id]);
    await since();
    await sql.query(`TRUNCATE invoice_items`);
    const changes = await since();
    expect(changes.map(({ table_name, op }) => [table_name, op])).toEqual([
      ['invoice_items', 'TRUNCATE'],
      ['invoices', 'UPDATE'],
    ]);
    expect(changes[1].new).toMatchObject({ id: rows[0].id, total_amount: 0 });
  });

  it('DROP TABLE: a SCHEMA_CHANGE with no after, and the table leaves the catalog', async () => {
    await sql.query(`DROP TABLE f`);
    const changes = await since();
    expect(changes.map(({ table_name, op, new: row }) => [table_name, op, row!.command, row!.after])).toEqual([
      ['f', 'SCHEMA_CHANGE', 'DROP TABLE', null],
    ]);
    expect((await captured()).map((c) => c.table)).not.toContain('f');
    const { rows } = await sql.query(`SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'on_public.f_%'`);
    expect(rows[0].n).toBe(0);
  });

  it('a table created again under a renamed table’s old name is captured on its own', async () => {
    await sql.query(`CREATE TABLE t (id int PRIMARY KEY)`);
    await sql.query(`SELECT capture.enable('t')`);
    await sql.query(`INSERT INTO t VALUES (1); INSERT INTO t2 VALUES (8, 11)`);
    expect((await since()).map(({ table_name, row_pk }) => [table_name, row_pk])).toEqual([
      ['t', { id: 1 }],
      ['t2', { tid: 8, n: 11 }],
    ]);
  });

  it('a DDL that changes no captured table costs no event', async () => {
    await sql.query(`CREATE TABLE other (id int PRIMARY KEY); ALTER TABLE other ADD COLUMN x int; DROP TABLE other`);
    expect(await since()).toEqual([]);
  });

  it('drift: a trigger dropped or disabled by hand is named, and capture.enable re-arms it', async () => {
    expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([]);
    await sql.query(`DROP TRIGGER capture_update ON t`);
    await sql.query(`ALTER TABLE t2 DISABLE TRIGGER capture_insert`);
    await sql.query(`ALTER TABLE invoices ENABLE REPLICA TRIGGER capture_delete`);
    expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([
      { table_name: 'invoices', problem: 'its delete trigger fires only with session_replication_role = replica' },
      { table_name: 't', problem: 'its update trigger is missing' },
      { table_name: 't2', problem: 'its insert trigger is disabled' },
    ]);
    await sql.query(`SELECT capture.enable('t'); SELECT capture.enable('t2'); SELECT capture.enable('invoices')`);
    expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([]);
    await sql.query(`UPDATE t SET id = 2; INSERT INTO t2 VALUES (9, 12)`);
    expect((await since()).map(({ table_name, op }) => [table_name, op])).toEqual([
      ['t', 'UPDATE'],
      ['t2', 'INSERT'],
    ]);
  });

  it('drift: a schema changed while nobody followed it is named, and capture.enable tells it and re-arms', async () => {
    await sql.query(`ALTER EVENT TRIGGER capture_follow_schema DISABLE`);
    try {
      await sql.query(`ALTER TABLE t RENAME COLUMN id TO key`);
      expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([
        { table_name: null, problem: 'the event trigger capture_follow_schema is disabled: schema changes of captured tables are not followed' },
        { table_name: 't', problem: 'its schema changed while schema changes were not followed' },
      ]);
      await sql.query(`SELECT capture.enable('t')`);
      await sql.query(`INSERT INTO t VALUES (5)`);
      const changes = await since();
      expect(changes.map(({ op, row_pk, new: row }) => [op, row_pk, row && (row.command ?? row.key)])).toEqual([
        ['SCHEMA_CHANGE', null, 'capture.enable'],
        ['INSERT', { key: 5 }, 5],
      ]);
    } finally {
      await sql.query(`ALTER EVENT TRIGGER capture_follow_schema ENABLE`);
    }
    expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([]);
  });

  it('without the old row: updates and deletions carry the key and the new row only', async () => {
    await sql.query(`CREATE TABLE lean (id int PRIMARY KEY, v text)`);
    await sql.query(`SELECT capture.enable('lean', NULL, keep_old => false)`);
    await sql.query(`INSERT INTO lean VALUES (1, 'a'); UPDATE lean SET v = 'b'; UPDATE lean SET v = 'b'; DELETE FROM lean`);
    expect((await since()).map(({ op, row_pk, old, new: row }) => [op, row_pk, old, row])).toEqual([
      ['INSERT', { id: 1 }, null, { id: 1, v: 'a' }],
      ['UPDATE', { id: 1 }, null, { id: 1, v: 'b' }],
      ['DELETE', { id: 1 }, null, null],
    ]);
    const { rows } = await sql.query(`SELECT keep_old FROM capture.tables WHERE table_name = 'lean'`);
    expect(rows).toEqual([{ keep_old: false }]);
  });
});
