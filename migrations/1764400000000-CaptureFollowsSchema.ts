import { MigrationInterface, QueryRunner } from 'typeorm';
import {
  DISABLE as PREVIOUS_DISABLE,
  ENABLE as PREVIOUS_ENABLE,
  PAYLOAD as PREVIOUS_PAYLOAD,
  TABLES_VIEW as PREVIOUS_TABLES_VIEW,
  TAKE_BATCH as PREVIOUS_TAKE_BATCH,
} from './1764100000000-OneWritePerChange.js';

/**
 * Capture follows the schema (issue 23).
 *
 * What is captured is a row of capture.captured, tied to the table itself (a regclass: its oid,
 * which a rename keeps and a dump restores by name), not to its name: its generated function, its
 * column filter, whether the old row is kept, and the table's shape (name, key, columns) that the
 * function was generated for.
 *
 * An event trigger at the end of every DDL command regenerates the function of each captured table
 * the command touched whose shape changed, in the same transaction, and appends a SCHEMA_CHANGE
 * journal row (before and after): so writes keep working after a key column is renamed, the
 * notifications name the table and key as they are now, and a consumer sees in the stream where the
 * shape changed. DROP TABLE appends one too and takes the table out of capture. Writers pay nothing
 * for this: the generated function is as static as before; DDL pays for it.
 *
 * TRUNCATE is captured by a fourth statement trigger (one TRUNCATE journal row per table).
 *
 * capture.drift() names what switched capture off behind rowcast's back (a trigger dropped or
 * disabled, the event triggers missing, a shape that changed while nobody followed it).
 */
export class CaptureFollowsSchema1764400000000 implements MigrationInterface {
  name = 'CaptureFollowsSchema1764400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    const tables: { name: string; columns: string[] | null }[] = await queryRunner.query(
      `SELECT format('%I.%I', schema_name, table_name) AS name, columns FROM capture.tables`,
    );
    for (const table of tables) await queryRunner.query(`LOCK TABLE ${table.name} IN SHARE ROW EXCLUSIVE MODE`);

    // New kinds of journal rows. NOT VALID, then VALIDATE: checking the journal does not block writers.
    await sql(`ALTER TABLE capture.changes DROP CONSTRAINT changes_op_check`);
    await sql(`ALTER TABLE capture.changes ADD CONSTRAINT changes_op_check
               CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA_CHANGE')) NOT VALID`);
    await sql(`ALTER TABLE capture.changes VALIDATE CONSTRAINT changes_op_check`);
    // A TRUNCATE or a schema change is about the table, not a row.
    await sql(`ALTER TABLE capture.changes ALTER COLUMN row_pk DROP NOT NULL`);

    await sql(CAPTURED_TABLE);
    await sql(SHAPE);
    await sql(ARM);
    await sql(FOLLOW);

    for (const table of tables) await queryRunner.query(`SELECT capture.disable($1::regclass)`, [table.name]);
    await sql(`DROP VIEW capture.tables`);
    await sql(`DROP FUNCTION capture.enable(regclass, text[])`);
    await sql(`DROP FUNCTION capture.disable(regclass)`);
    await sql(ENABLE);
    await sql(DISABLE);
    await sql(DRIFT);
    await sql(TABLES_VIEW);
    for (const table of tables) {
      await queryRunner.query(`SELECT capture.enable($1::regclass, $2::text[])`, [table.name, table.columns]);
    }
    await sql(EVENT_TRIGGERS);
    await sql(WELL_FORMED);
    await sql(TAKE_BATCH);
    await sql(PAYLOAD);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    const tables: { name: string; columns: string[] | null }[] = await queryRunner.query(
      `SELECT format('%I.%I', schema_name, table_name) AS name, columns FROM capture.tables`,
    );
    for (const table of tables) await queryRunner.query(`LOCK TABLE ${table.name} IN SHARE ROW EXCLUSIVE MODE`);
    await sql(`DROP EVENT TRIGGER IF EXISTS capture_follow_schema`);
    await sql(`DROP EVENT TRIGGER IF EXISTS capture_forget_dropped`);
    await sql(`DROP FUNCTION capture.watch_schema_changes()`);
    await sql(`DROP FUNCTION capture.follow_schema()`);
    await sql(`DROP FUNCTION capture.forget_dropped()`);
    for (const table of tables) await queryRunner.query(`SELECT capture.disable($1::regclass)`, [table.name]);
    await sql(`DROP VIEW capture.tables`);
    await sql(`DROP FUNCTION capture.drift()`);
    await sql(`DROP FUNCTION capture.enable(regclass, text[], boolean)`);
    await sql(`DROP FUNCTION capture.disable(regclass)`);
    await sql(`DROP FUNCTION capture.follow(regclass, text)`);
    await sql(`DROP FUNCTION capture.arm(regclass, boolean)`);
    await sql(`DROP FUNCTION capture.shape(regclass)`);
    await sql(`DROP FUNCTION capture.public_shape(jsonb)`);
    await sql(`DROP TABLE capture.captured`);
    await sql(PREVIOUS_ENABLE);
    await sql(PREVIOUS_DISABLE);
    await sql(PREVIOUS_TABLES_VIEW);
    for (const table of tables) {
      await queryRunner.query(`SELECT capture.enable($1::regclass, $2::text[])`, [table.name, table.columns]);
    }
    await sql(orReplace(PREVIOUS_TAKE_BATCH));
    await sql(orReplace(PREVIOUS_PAYLOAD));
    await sql(`DROP FUNCTION capture.well_formed(capture.changes)`);
    // Table events cannot be told in the old shape: they leave the journal (and so the log).
    await sql(`DELETE FROM capture.changes WHERE op IN ('TRUNCATE', 'SCHEMA_CHANGE')`);
    await sql(`ALTER TABLE capture.changes ALTER COLUMN row_pk SET NOT NULL`);
    await sql(`ALTER TABLE capture.changes DROP CONSTRAINT changes_op_check`);
    await sql(`ALTER TABLE capture.changes ADD CONSTRAINT changes_op_check CHECK (op IN ('INSERT', 'UPDATE', 'DELETE'))`);
  }
}

const orReplace = (definitions: string) => definitions.replaceAll('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION');

const CAPTURED_TABLE = `
  CREATE TABLE capture.captured (
    relid regclass PRIMARY KEY,
    -- The generated trigger function, named when the table was first enabled (renames keep it).
    fn text NOT NULL UNIQUE,
    -- Updates that change none of these columns are not captured; NULL: every column.
    columns text[],
    -- Whether UPDATE and DELETE journal rows carry the old row.
    keep_old boolean NOT NULL DEFAULT true,
    -- The table as fn was generated for it: capture.shape().
    shape jsonb NOT NULL,
    enabled_at timestamptz NOT NULL DEFAULT now()
  )`;

/**
 * A table's shape: {schema, table, key: [column…] or null (no primary key), columns: [{name, type,
 * num}]}. Column numbers let a column filter follow a rename; public_shape() leaves them out.
 */
const SHAPE = `
  CREATE FUNCTION capture.shape(tbl regclass) RETURNS jsonb
  -- Types named the same whatever the session's search_path (format_type qualifies what it cannot see).
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT jsonb_build_object(
      'schema', n.nspname::text,
      'table', c.relname::text,
      'key', (SELECT jsonb_agg(a.attname::text ORDER BY k.ord)
              FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisprimary),
      'columns', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', a.attname::text, 'type', format_type(a.atttypid, a.atttypmod),
                                                               'num', a.attnum) ORDER BY a.attnum), '[]')
                  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = tbl
  $fn$;
  CREATE FUNCTION capture.public_shape(shape jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT jsonb_build_object('schema', shape->'schema', 'table', shape->'table', 'key', shape->'key',
      'columns', (SELECT coalesce(jsonb_agg(col - 'num' ORDER BY ord), '[]')
                  FROM jsonb_array_elements(shape->'columns') WITH ORDINALITY AS e(col, ord)))
  $fn$`;

/**
 * capture.arm(tbl, triggers): (re)generates the table's function from its capture.captured row, and
 * with triggers, (re)creates its four statement triggers (enabled). The function names no table:
 * TG_TABLE_SCHEMA and TG_TABLE_NAME are what the table is called when it fires; its key columns
 * and column filter are written into static SQL, as cheap for writers as SQL gets. The UPDATE
 * branch pairs the transition tables' rows by position (PostgreSQL appends a row's old and new
 * versions together) and skips rows whose image did not change, or whose watched columns did not
 * (*=: byte-wise, so it works for types without an equality operator, json included). A table
 * without a primary key is keyed by its whole row.
 */
const ARM = `
  CREATE FUNCTION capture.arm(tbl regclass, triggers boolean) RETURNS void
  LANGUAGE plpgsql AS $fn$
  DECLARE
    k capture.captured;
    -- The transition row's alias: r, unless the table has a column named so (a bare alias must be
    -- the whole row, never a column).
    r text := 'r';
    key text;
    watched text;
    changed text;
    old_row text := 'NULL::jsonb';
    old_of_update text := 'NULL::jsonb';
    op text;
    t record;
  BEGIN
    SELECT * INTO STRICT k FROM capture.captured WHERE relid = tbl;
    WHILE EXISTS (SELECT 1 FROM jsonb_array_elements(k.shape->'columns') c WHERE c->>'name' = r) LOOP
      r := r || '_';
    END LOOP;
    r := quote_ident(r);
    key := format('to_jsonb(%s)', r);
    -- Without a column filter the rows are compared whole (v); with one, their watched columns (w).
    watched := '';
    changed := 'NOT (o.v *= n.v)';
    IF jsonb_typeof(k.shape->'key') = 'array' THEN
      SELECT 'jsonb_build_object(' || string_agg(format('%L, %s.%I', c, r, c), ', ') || ')' INTO key
      FROM jsonb_array_elements_text(k.shape->'key') c;
    END IF;
    IF cardinality(k.columns) > 0 THEN
      watched := format(', ROW(%s) AS w', (SELECT string_agg(format('%s.%I', r, c), ', ') FROM unnest(k.columns) c));
      changed := 'NOT (o.w *= n.w)';
    END IF;
    IF k.keep_old THEN
      old_row := format('to_jsonb(%s)', r);
      old_of_update := 'to_jsonb(o.v)';
    END IF;
    -- Columns are read from the transition tables' rows themselves (r.col), never from a subquery's
    -- row ((n.r).col): PostgreSQL 15 resolves the latter wrongly once the table has a dropped column.
    -- The actor is capture_fn.who: a bare who would clash with a column named who. The UPDATE
    -- branch carries rows (not their JSON) through the pairing, and turns them to JSON after it.
    EXECUTE format($body$
      CREATE OR REPLACE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $trigger$
      <<capture_fn>>
      DECLARE
        who text := capture.actor();
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor)
          SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'INSERT', %2$s, to_jsonb(%5$s), capture_fn.who
          FROM capture_new AS %5$s;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO capture.changes (schema_name, table_name, op, row_pk, old, new, actor)
          SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'UPDATE', n.k, %6$s, to_jsonb(n.v), capture_fn.who
          FROM (SELECT %5$s AS v%3$s, row_number() OVER () AS i FROM capture_old AS %5$s) o
          JOIN (SELECT %5$s AS v%3$s, %2$s AS k, row_number() OVER () AS i FROM capture_new AS %5$s) n USING (i)
          WHERE %7$s
          ORDER BY i;
        ELSIF TG_OP = 'DELETE' THEN
          INSERT INTO capture.changes (schema_name, table_name, op, row_pk, old, actor)
          SELECT TG_TABLE_SCHEMA, TG_TABLE_NAME, 'DELETE', %2$s, %4$s, capture_fn.who
          FROM capture_old AS %5$s;
        ELSE
          INSERT INTO capture.changes (schema_name, table_name, op, actor)
          VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'TRUNCATE', capture_fn.who);
        END IF;
        IF FOUND THEN
          PERFORM capture.wake_drainer();
        END IF;
        RETURN NULL;
      END
      $trigger$ $body$, k.fn, key, watched, old_row, r, old_of_update, changed);
    IF NOT triggers THEN
      RETURN;
    END IF;
    FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = tbl AND tgfoid = to_regproc(k.fn) LOOP
      EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, tbl);
    END LOOP;
    FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
      EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
        'capture_' || op, upper(op), tbl,
        CASE op WHEN 'insert' THEN 'REFERENCING NEW TABLE AS capture_new'
                WHEN 'update' THEN 'REFERENCING OLD TABLE AS capture_old NEW TABLE AS capture_new'
                WHEN 'delete' THEN 'REFERENCING OLD TABLE AS capture_old'
                ELSE '' END,
        k.fn);
    END LOOP;
  END
  $fn$`;

/**
 * capture.follow(tbl, command): if the table's shape is not what its function was generated for,
 * regenerates the function (its column filter following renames by column number and losing
 * dropped columns) and appends a SCHEMA_CHANGE journal row named as the table was called before
 * the command: {command, before, after}. Returns whether it changed.
 */
const FOLLOW = `
  CREATE FUNCTION capture.follow(tbl regclass, command text) RETURNS boolean
  LANGUAGE plpgsql AS $fn$
  DECLARE
    k capture.captured;
    now_shape jsonb := capture.shape(tbl);
    watched text[];
  BEGIN
    -- Locked only when there is something to change: two DDLs that change nothing (CREATE INDEX) must
    -- not wait on each other here.
    SELECT * INTO STRICT k FROM capture.captured WHERE relid = tbl;
    IF k.shape = now_shape THEN
      RETURN false;
    END IF;
    SELECT * INTO STRICT k FROM capture.captured WHERE relid = tbl FOR UPDATE;
    IF k.shape = now_shape THEN
      RETURN false;
    END IF;
    IF k.columns IS NOT NULL THEN
      -- Each watched column by its name now: the same name, else the same column number (a rename).
      SELECT array_agg(now_col->>'name' ORDER BY w.ord) INTO watched
      FROM unnest(k.columns) WITH ORDINALITY AS w(name, ord)
      CROSS JOIN LATERAL (
        SELECT c AS now_col FROM jsonb_array_elements(now_shape->'columns') c
        WHERE c->>'name' = w.name
           OR c->'num' = (SELECT b->'num' FROM jsonb_array_elements(k.shape->'columns') b WHERE b->>'name' = w.name)
        ORDER BY c->>'name' = w.name DESC LIMIT 1) m;
      IF watched IS NULL THEN
        RAISE WARNING 'capture: every column of %''s filter (%) is gone; every change of it is captured now',
          tbl, array_to_string(k.columns, ', ');
      END IF;
    END IF;
    IF jsonb_typeof(now_shape->'key') <> 'array' AND jsonb_typeof(k.shape->'key') = 'array' THEN
      RAISE WARNING 'capture: % has no primary key now; its notifications name the whole row as its key', tbl;
    END IF;
    UPDATE capture.captured SET shape = now_shape, columns = watched WHERE relid = tbl;
    PERFORM capture.arm(tbl, false);
    INSERT INTO capture.changes (schema_name, table_name, op, new, actor)
    VALUES (k.shape->>'schema', k.shape->>'table', 'SCHEMA_CHANGE',
            jsonb_build_object('command', command, 'before', capture.public_shape(k.shape), 'after', capture.public_shape(now_shape)),
            capture.actor());
    PERFORM capture.wake_drainer();
    RETURN true;
  END
  $fn$`;

/**
 * capture.enable(tbl, columns, keep_old): captures every change of the table, or re-arms it (its
 * triggers recreated and enabled, its function regenerated). Options left NULL keep what the table
 * has (for a new one: every column, old rows kept); columns => '{}' removes a column filter.
 */
export const ENABLE = `
  CREATE FUNCTION capture.enable(tbl regclass, columns text[] DEFAULT NULL, keep_old boolean DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql AS $fn$
  DECLARE
    rel record;
    unknown text[];
    shape jsonb := capture.shape(tbl);
    fn_name text;
    readable text;
  BEGIN
    SELECT c.relname, n.nspname, c.relkind, c.relpersistence INTO rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    IF rel.relkind NOT IN ('r', 'p') THEN
      RAISE EXCEPTION 'capture.enable: % is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF rel.nspname = 'capture' THEN
      RAISE EXCEPTION 'capture.enable: the journal''s own tables cannot be captured' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF rel.relpersistence = 't' THEN
      RAISE EXCEPTION 'capture.enable: % is a temporary table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT array_agg(col) INTO unknown FROM unnest(columns) col
    WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(shape->'columns') c WHERE c->>'name' = col);
    IF unknown IS NOT NULL THEN
      RAISE EXCEPTION 'capture.enable: % has no column %', tbl, array_to_string(unknown, ', ') USING ERRCODE = 'undefined_column';
    END IF;
    IF jsonb_typeof(shape->'key') <> 'array' THEN
      RAISE WARNING 'capture.enable: % has no primary key; its notifications name the whole row as its key', tbl;
    END IF;
    IF EXISTS (SELECT 1 FROM capture.captured WHERE relid = tbl) THEN
      -- A shape that changed while nobody followed it (the event triggers missing) is told first.
      PERFORM capture.follow(tbl, 'capture.enable');
      UPDATE capture.captured k
      SET columns = CASE WHEN enable.columns IS NULL THEN k.columns ELSE nullif(enable.columns, '{}') END,
          keep_old = coalesce(enable.keep_old, k.keep_old)
      WHERE k.relid = tbl;
    ELSE
      -- Named after the table: a hash of its name first (a table renamed since took it: of its oid
      -- too), then as much of the name as fits in 63 bytes, whatever its characters.
      readable := rel.nspname || '.' || rel.relname;
      WHILE octet_length(readable) > 48 LOOP
        readable := left(readable, -1);
      END LOOP;
      fn_name := format('capture.%I', 'on_' || left(md5(rel.nspname || '.' || rel.relname), 8) || '_' || readable);
      IF EXISTS (SELECT 1 FROM capture.captured k WHERE k.fn = fn_name) THEN
        fn_name := format('capture.%I', 'on_' || left(md5(tbl::oid::text || rel.nspname || '.' || rel.relname), 8) || '_' || readable);
      END IF;
      INSERT INTO capture.captured (relid, fn, columns, keep_old, shape)
      VALUES (tbl, fn_name, nullif(columns, '{}'), coalesce(keep_old, true), shape);
    END IF;
    PERFORM capture.arm(tbl, true);
  END
  $fn$`;

const DISABLE = `
  CREATE FUNCTION capture.disable(tbl regclass) RETURNS boolean
  LANGUAGE plpgsql AS $fn$
  DECLARE
    k capture.captured;
    t record;
  BEGIN
    DELETE FROM capture.captured WHERE relid = tbl RETURNING * INTO k;
    IF NOT FOUND THEN
      RETURN false;
    END IF;
    FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = tbl AND tgfoid = to_regproc(k.fn) LOOP
      EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, tbl);
    END LOOP;
    EXECUTE format('DROP FUNCTION IF EXISTS %s()', k.fn);
    RETURN true;
  END
  $fn$`;

/** What is under capture, named as the tables are now. */
const TABLES_VIEW = `
  CREATE VIEW capture.tables AS
  SELECT n.nspname AS schema_name, c.relname AS table_name, k.columns,
         CASE WHEN jsonb_typeof(k.shape->'key') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(k.shape->'key')) END AS key,
         k.keep_old, k.enabled_at,
         -- What keeps its capture from being complete (capture.drift()); empty when it is armed.
         ARRAY(SELECT d.problem FROM capture.drift() d WHERE d.table_name = capture.qualified_name(n.nspname, c.relname)) AS problems
  FROM capture.captured k
  JOIN pg_class c ON c.oid = k.relid
  JOIN pg_namespace n ON n.oid = c.relnamespace`;

/**
 * What keeps capture from being what capture.captured says: one row per problem, with the table
 * (NULL for the whole database). `capture.enable(table)` re-arms a table.
 */
const DRIFT = `
  CREATE FUNCTION capture.drift() RETURNS TABLE (table_name text, problem text)
  LANGUAGE sql STABLE AS $fn$
    SELECT capture.qualified_name(n.nspname, c.relname), p.problem
    FROM capture.captured k
    JOIN pg_class c ON c.oid = k.relid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN LATERAL (
      SELECT CASE WHEN t.tgenabled IS NULL THEN format('its %s trigger is missing', op)
                  WHEN t.tgenabled = 'D' THEN format('its %s trigger is disabled', op)
                  ELSE format('its %s trigger fires only with session_replication_role = replica', op) END AS problem, o.ord
      FROM unnest(ARRAY['insert', 'update', 'delete', 'truncate']) WITH ORDINALITY AS o(op, ord)
      LEFT JOIN pg_trigger t ON t.tgrelid = k.relid AND t.tgname = 'capture_' || o.op AND t.tgfoid = to_regproc(k.fn)
      WHERE t.tgenabled IS NULL OR t.tgenabled IN ('D', 'R')
      UNION ALL
      SELECT 'its schema changed while schema changes were not followed', 5
      WHERE capture.shape(k.relid) <> k.shape
    ) p
    UNION ALL
    -- Dropped while nobody followed it (or a temporary table of a session that ended).
    SELECT capture.qualified_name(k.shape->>'schema', k.shape->>'table'),
           format('it was dropped while schema changes were not followed: SELECT capture.disable(%s) forgets it', k.relid::oid)
    FROM capture.captured k
    WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = k.relid)
    UNION ALL
    SELECT NULL, format('the event trigger %s is %s: schema changes of captured tables are not followed', e.name,
                        CASE WHEN t.evtenabled IS NULL THEN 'missing' ELSE 'disabled' END)
    FROM unnest(ARRAY['capture_follow_schema', 'capture_forget_dropped']) AS e(name)
    LEFT JOIN pg_event_trigger t ON t.evtname = e.name
    WHERE t.evtenabled IS NULL OR t.evtenabled = 'D'
    ORDER BY 1 NULLS FIRST, 2
  $fn$`;

/**
 * The event triggers. They run as their owner (SECURITY DEFINER, a fixed search_path): DDL by a
 * role with no rights on the schema capture, on any table, must not fail because of them. Creating
 * an event trigger needs a superuser: without one, capture works as before but does not follow
 * schema changes, capture.drift() (so /health) says so, and a superuser can later run
 * `SELECT capture.watch_schema_changes()`.
 */
const EVENT_TRIGGERS = `
  CREATE FUNCTION capture.follow_schema() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  DECLARE
    t record;
  BEGIN
    FOR t IN
      WITH RECURSIVE commands AS (SELECT * FROM pg_event_trigger_ddl_commands()),
      -- The tables the commands touched (an index: its table), and their partitions and children,
      -- which a rename or a column change on the parent reaches too.
      touched(relid, command) AS (
        SELECT coalesce((SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.objid), c.objid), c.command_tag
        FROM commands c WHERE c.classid = 'pg_class'::regclass
        UNION
        SELECT h.inhrelid, p.command FROM pg_inherits h JOIN touched p ON h.inhparent = p.relid
      ),
      -- A schema or a type renamed or changed (ALTER SCHEMA … RENAME, ALTER TYPE): any captured table may show it.
      elsewhere AS (
        SELECT min(c.command_tag) AS command FROM commands c
        WHERE c.classid IN ('pg_namespace'::regclass, 'pg_type'::regclass)
      )
      SELECT k.relid, min(w.command) AS command
      FROM (SELECT relid, command FROM touched
            UNION ALL
            SELECT k.relid::oid, e.command FROM capture.captured k, elsewhere e WHERE e.command IS NOT NULL) w
      JOIN capture.captured k ON k.relid::oid = w.relid
      GROUP BY k.relid
    LOOP
      PERFORM capture.follow(t.relid, t.command);
    END LOOP;
  END
  $fn$;
  CREATE FUNCTION capture.forget_dropped() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  DECLARE
    k capture.captured;
    t record;
  BEGIN
    FOR k IN
      DELETE FROM capture.captured
      WHERE relid::oid IN (SELECT objid FROM pg_event_trigger_dropped_objects()
                           WHERE classid = 'pg_class'::regclass AND objsubid = 0 AND object_type = 'table')
      RETURNING *
    LOOP
      INSERT INTO capture.changes (schema_name, table_name, op, new, actor)
      VALUES (k.shape->>'schema', k.shape->>'table', 'SCHEMA_CHANGE',
              jsonb_build_object('command', tg_tag, 'before', capture.public_shape(k.shape), 'after', NULL),
              capture.actor());
      EXECUTE format('DROP FUNCTION IF EXISTS %s()', k.fn);
      PERFORM capture.wake_drainer();
    END LOOP;
    -- Columns of captured tables dropped by another command (DROP DOMAIN … CASCADE, DROP TYPE … CASCADE).
    FOR t IN
      SELECT DISTINCT c.relid FROM pg_event_trigger_dropped_objects() d JOIN capture.captured c ON c.relid::oid = d.objid
      WHERE d.classid = 'pg_class'::regclass AND d.objsubid > 0
    LOOP
      PERFORM capture.follow(t.relid, tg_tag);
    END LOOP;
  END
  $fn$;
  CREATE FUNCTION capture.watch_schema_changes() RETURNS void
  LANGUAGE plpgsql AS $fn$
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'capture_follow_schema') THEN
      CREATE EVENT TRIGGER capture_follow_schema ON ddl_command_end EXECUTE FUNCTION capture.follow_schema();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'capture_forget_dropped') THEN
      CREATE EVENT TRIGGER capture_forget_dropped ON sql_drop EXECUTE FUNCTION capture.forget_dropped();
    END IF;
  END
  $fn$;
  DO $do$
  BEGIN
    PERFORM capture.watch_schema_changes();
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'capture: only a superuser can create event triggers, so captured tables will not follow schema changes '
      '(capture.drift() reports it; a superuser can run SELECT capture.watch_schema_changes())';
  END
  $do$`;

/** Whether a journal row has the shape the capture triggers write (the drainer drops any other). */
export const WELL_FORMED = `
  CREATE FUNCTION capture.well_formed(r capture.changes) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT r.schema_name <> '' AND r.table_name <> ''
       AND coalesce(jsonb_typeof(r.new), 'object') = 'object' AND coalesce(jsonb_typeof(r.old), 'object') = 'object'
       AND CASE WHEN r.op IN ('INSERT', 'UPDATE', 'DELETE')
                THEN jsonb_typeof(r.row_pk) = 'object' AND r.row_pk <> '{}' AND (r.op = 'DELETE') = (r.new IS NULL)
                     AND (r.op <> 'INSERT' OR r.old IS NULL)
                WHEN r.op = 'TRUNCATE' THEN r.new IS NULL AND r.old IS NULL
                WHEN r.op = 'SCHEMA_CHANGE' THEN r.new IS NOT NULL AND r.old IS NULL
                ELSE false END
  $fn$`;

export const TAKE_BATCH = (() => {
  const previous = orReplace(PREVIOUS_TAKE_BATCH);
  const now = previous.replace(/IF NOT \(r\.schema_name <> ''[\s\S]*?\) THEN/, 'IF NOT capture.well_formed(r) THEN');
  if (now === previous) throw new Error('capture.take_batch: its row check was not found');
  return now;
})();

/** Table events' payloads: no key or rows; a schema change's {command, before, after} as schemaChange. */
export const PAYLOAD = `
  CREATE OR REPLACE FUNCTION capture.event_name(schema_name text, table_name text, op text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT capture.qualified_name(schema_name, table_name)
           || CASE op WHEN 'INSERT' THEN '.created' WHEN 'UPDATE' THEN '.updated' WHEN 'DELETE' THEN '.deleted'
                      WHEN 'TRUNCATE' THEN '.truncated' ELSE '.schema_changed' END
  $fn$;
  CREATE OR REPLACE FUNCTION capture.payload(c capture.changes) RETURNS jsonb
  LANGUAGE sql STABLE AS $fn$
    SELECT jsonb_build_object(
      'schema', c.schema_name, 'table', c.table_name, 'op', c.op, 'pk', c.row_pk,
      'new', CASE WHEN c.op <> 'SCHEMA_CHANGE' THEN c.new END, 'old', c.old,
      'changedColumns', CASE WHEN c.changed_columns IS NOT NULL THEN to_jsonb(c.changed_columns)
                             WHEN c.op = 'UPDATE' AND c.old IS NOT NULL THEN (
                               SELECT coalesce(jsonb_agg(k ORDER BY k COLLATE "C"), '[]')
                               FROM jsonb_each(c.new) e(k, v) WHERE v IS DISTINCT FROM c.old -> k) END,
      'actor', c.actor, 'txId', c.tx::text,
      'changedAt', to_char(c.changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
      || CASE WHEN c.op = 'SCHEMA_CHANGE' THEN jsonb_build_object('schemaChange', c.new) ELSE '{}' END
  $fn$`;
