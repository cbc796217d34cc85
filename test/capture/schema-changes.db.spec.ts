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
      'capture: public.t2 has no primary key now; its notifications name the whole row as its key',
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
      "capture: every column of public.f's filter (state) is gone; every change of it is captured now",
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

  it('columns named like the generated code’s own names (r, who, w, j, k, i) are captured like any other', async () => {
    await sql.query(`CREATE TABLE odd (id int PRIMARY KEY, r int, who text, w int, j int, k int, i int)`);
    await sql.query(`SELECT capture.enable('odd')`);
    await sql.query(`INSERT INTO odd VALUES (1, 2, 'x', 3, 4, 5, 6); UPDATE odd SET r = 7; UPDATE odd SET r = 7; DELETE FROM odd`);
    const row = { id: 1, r: 2, who: 'x', w: 3, j: 4, k: 5, i: 6 };
    expect((await since()).map(({ op, old, new: now }) => [op, old, now])).toEqual([
      ['INSERT', null, row],
      ['UPDATE', row, { ...row, r: 7 }],
      ['DELETE', { ...row, r: 7 }, null],
    ]);
  });

  it('tables whose names fill 63 bytes in other scripts get functions of their own', async () => {
    const a = '"' + 'позиции'.repeat(4) + '_а"';
    const b = '"' + 'позиции'.repeat(4) + '_б"';
    await sql.query(`CREATE TABLE ${a} (id int PRIMARY KEY); CREATE TABLE ${b} (код int PRIMARY KEY)`);
    await sql.query(`SELECT capture.enable('${a}'); SELECT capture.enable('${b}')`);
    await sql.query(`INSERT INTO ${a} VALUES (1); INSERT INTO ${b} VALUES (2)`);
    expect((await since()).map(({ row_pk }) => row_pk)).toEqual([{ id: 1 }, { код: 2 }]);
    const { rows } = await sql.query(`SELECT count(DISTINCT to_regproc(fn)) AS n FROM capture.captured WHERE fn LIKE '%позиции%'`);
    expect(rows[0].n).toBe('2');
    await sql.query(`SELECT capture.disable('${a}'); SELECT capture.disable('${b}')`);
  });

  it('a rename on a partitioned parent reaches its captured partition', async () => {
    await sql.query(`CREATE TABLE pt (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`);
    await sql.query(`CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu')`);
    await sql.query(`SELECT capture.enable('pt_eu')`);
    await sql.query(`ALTER TABLE pt RENAME COLUMN id TO pid`);
    await sql.query(`INSERT INTO pt_eu VALUES (7, 'eu')`);
    expect((await since()).map(({ table_name, op, row_pk }) => [table_name, op, row_pk])).toEqual([
      ['pt_eu', 'SCHEMA_CHANGE', null],
      ['pt_eu', 'INSERT', { pid: 7, region: 'eu' }],
    ]);
  });

  it('a schema renamed, a type renamed, a domain dropped with its column: followed, and told', async () => {
    await sql.query(`CREATE SCHEMA inv; CREATE DOMAIN inv.code_t AS text; CREATE TYPE inv.mood AS ENUM ('ok')`);
    await sql.query(`CREATE TABLE inv.items (id int PRIMARY KEY, code inv.code_t, m inv.mood); SELECT capture.enable('inv.items')`);
    await sql.query(`ALTER SCHEMA inv RENAME TO inventory`);
    await sql.query(`ALTER TYPE inventory.mood RENAME TO feeling`);
    await sql.query(`DROP DOMAIN inventory.code_t CASCADE`);
    await sql.query(`INSERT INTO inventory.items VALUES (1, 'ok')`);
    const changes = await since();
    expect(changes.map(({ schema_name, op, new: row }) => [schema_name, op, op === 'SCHEMA_CHANGE' ? (row!.after as { columns: unknown }).columns : row])).toEqual([
      ['inv', 'SCHEMA_CHANGE', [{ name: 'id', type: 'integer' }, { name: 'code', type: 'inventory.code_t' }, { name: 'm', type: 'inventory.mood' }]],
      ['inventory', 'SCHEMA_CHANGE', [{ name: 'id', type: 'integer' }, { name: 'code', type: 'inventory.code_t' }, { name: 'm', type: 'inventory.feeling' }]],
      ['inventory', 'SCHEMA_CHANGE', [{ name: 'id', type: 'integer' }, { name: 'm', type: 'inventory.feeling' }]],
      ['inventory', 'INSERT', { id: 1, m: 'ok' }],
    ]);
    expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([]);
  });

  it('a table’s shape does not depend on the session’s search_path', async () => {
    const client = await sql.connect();
    try {
      await client.query(`SET search_path = inventory, public; CREATE INDEX ON inventory.items (m)`);
    } finally {
      await client.query(`RESET search_path`);
      client.release();
    }
    expect(await since()).toEqual([]);
    expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([]);
  });

  it('DDL by a role with no rights on the schema capture works, on its own tables, captured or not', async () => {
    await sql.query(`DROP ROLE IF EXISTS app_owner; CREATE ROLE app_owner; GRANT CREATE, USAGE ON SCHEMA public TO app_owner`);
    await sql.query(`GRANT USAGE ON SCHEMA capture TO app_owner; GRANT INSERT ON capture.changes TO app_owner; GRANT SELECT ON capture.wakeup TO app_owner`);
    const client = await sql.connect();
    try {
      await client.query(`SET ROLE app_owner`);
      await client.query(`CREATE TABLE owned (id int PRIMARY KEY, v text); CREATE TABLE unrelated (id int)`);
      await client.query(`RESET ROLE; SELECT capture.enable('owned'); SET ROLE app_owner`);
      await client.query(`ALTER TABLE owned RENAME COLUMN id TO oid_; INSERT INTO owned VALUES (1, 'a'); DROP TABLE unrelated; DROP TABLE owned`);
    } finally {
      await client.query(`RESET ROLE`);
      client.release();
    }
    expect((await since()).map(({ table_name, op, row_pk }) => [table_name, op, row_pk])).toEqual([
      ['owned', 'SCHEMA_CHANGE', null],
      ['owned', 'INSERT', { oid_: 1 }],
      ['owned', 'SCHEMA_CHANGE', null],
    ]);
  });

  it('refuses a temporary table, and names a captured table dropped while nobody followed', async () => {
    const client = await sql.connect();
    try {
      await client.query(`CREATE TEMP TABLE scratch (id int PRIMARY KEY)`);
      await expect(client.query(`SELECT capture.enable('scratch')`)).rejects.toThrow('is a temporary table');
    } finally {
      client.release();
    }
    await sql.query(`CREATE TABLE gone (id int PRIMARY KEY); SELECT capture.enable('gone')`);
    const { rows: [{ oid }] } = await sql.query(`SELECT 'gone'::regclass::oid AS oid`);
    await sql.query(`ALTER EVENT TRIGGER capture_forget_dropped DISABLE`);
    try {
      await sql.query(`DROP TABLE gone`);
    } finally {
      await sql.query(`ALTER EVENT TRIGGER capture_forget_dropped ENABLE`);
    }
    expect((await sql.query(`SELECT * FROM capture.drift()`)).rows).toEqual([
      { table_name: 'gone', problem: `it was dropped while schema changes were not followed: SELECT capture.disable(${oid}) forgets it` },
    ]);
    await sql.query(`SELECT capture.disable(${oid})`);
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
