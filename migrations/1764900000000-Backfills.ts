import { MigrationInterface, QueryRunner } from 'typeorm';
import { PAYLOAD as PREVIOUS_PAYLOAD, WELL_FORMED as PREVIOUS_WELL_FORMED } from './1764400000000-CaptureFollowsSchema.js';

/**
 * Backfills (issue 19): the rows a table already holds, as `READ` journal rows, in the log's own
 * commit order, exactly once.
 *
 * A backfill is a row of capture.backfills: the table (a regclass, as capture.captured ties capture
 * to the table, not its name), its key, an optional `where` (the subscribe language's {column:
 * value}), the end fixed at start (the largest key then: rows inserted later come through live
 * capture, so a backfill always finishes) and a cursor (the last key done; NULL before the first
 * chunk).
 *
 * capture.backfill_chunk(id, max_rows) is one chunk in one short transaction: it reads the next rows
 * by keyset on the primary key FOR SHARE, appends one READ journal row per row (the row as the
 * table's capture function writes it: row_pk, new = to_jsonb(row)) and moves the cursor. A writer
 * holding one of those rows makes the chunk wait and read its new version, so the read takes its
 * journal id after that writer committed; a later writer waits for the chunk. The drainer orders
 * transactions by their last journal id, so each read lands after every change it contains and
 * before every change it lacks. The cursor commits with the reads: a killed runner resumes where
 * the cursor is, and reads nothing twice.
 */
export class Backfills1764900000000 implements MigrationInterface {
  name = 'Backfills1764900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    // Which backfill a READ row comes from. NULL without a default: no rewrite, nothing for writers.
    await sql(`ALTER TABLE capture.changes ADD COLUMN backfill_id bigint`);
    // NOT VALID, then VALIDATE: checking the journal does not block writers.
    await sql(`ALTER TABLE capture.changes DROP CONSTRAINT changes_op_check`);
    await sql(`ALTER TABLE capture.changes ADD CONSTRAINT changes_op_check
               CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA_CHANGE', 'READ')) NOT VALID`);
    await sql(`ALTER TABLE capture.changes VALIDATE CONSTRAINT changes_op_check`);
    await sql(BACKFILLS_TABLE);
    await sql(KEY_SQL);
    await sql(START);
    await sql(CHUNK);
    await sql(WELL_FORMED);
    await sql(PAYLOAD);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(PREVIOUS_WELL_FORMED.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
    await sql(PREVIOUS_PAYLOAD);
    await sql(`DROP FUNCTION capture.backfill_chunk(bigint, int)`);
    await sql(`DROP FUNCTION capture.backfill_start(regclass, jsonb, uuid[])`);
    await sql(`DROP FUNCTION capture.backfill_key_sql(regclass, text[], text)`);
    await sql(`DROP TABLE capture.backfills`);
    // Reads cannot be told in the old shape: they leave the journal (and so the log).
    await sql(`DELETE FROM capture.changes WHERE op = 'READ'`);
    await sql(`ALTER TABLE capture.changes DROP CONSTRAINT changes_op_check`);
    await sql(`ALTER TABLE capture.changes ADD CONSTRAINT changes_op_check
               CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA_CHANGE'))`);
    await sql(`ALTER TABLE capture.changes DROP COLUMN backfill_id`);
  }
}

const BACKFILLS_TABLE = `
  CREATE TABLE capture.backfills (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid regclass NOT NULL,
    -- The table as it was called at start (schema-qualified outside public), for when it is gone.
    table_name text NOT NULL,
    -- The primary key's columns at start; a chunk refuses to go on if the key is not these any more.
    key text[] NOT NULL,
    -- {column: value}, compared as text (the subscribe language's where); NULL: every row.
    "where" jsonb,
    -- Sinks (ids) the reads are for; NULL: whoever asks for <table>.read.
    destinations uuid[],
    -- The largest key at start ({column: value}); NULL: the table was empty.
    end_key jsonb,
    -- The last key read; NULL before the first chunk.
    cursor jsonb,
    rows_done bigint NOT NULL DEFAULT 0,
    -- The planner's estimate of the rows to read at start.
    estimate bigint NOT NULL DEFAULT 0,
    -- The last chunk's size (rows); the runner adapts it so that a chunk holds its locks briefly.
    chunk_size int NOT NULL DEFAULT 500 CHECK (chunk_size > 0),
    state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'cancelled', 'completed', 'failed')),
    error text,
    -- Who started it: the actor of its READ rows.
    actor text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Since when it runs (start or last resume) and rows_done then: the rate leaves pauses out.
    resumed_at timestamptz NOT NULL DEFAULT now(),
    rows_at_resume bigint NOT NULL DEFAULT 0,
    finished_at timestamptz
  );
  CREATE INDEX backfills_running_idx ON capture.backfills (id) WHERE state = 'running'`;

/**
 * The SQL a chunk needs for a table, as text to format into statements: what = 'cols' gives the key
 * columns of alias r ("r.a, r.b"), 'json' the key as the capture function writes row_pk
 * (jsonb_build_object('a', r.a, …)), 'desc' the key descending (ORDER BY), and 'value' the key
 * columns of a key given as $n ({column: value}) typed as the table's
 * ((jsonb_populate_record(NULL::t, $n)).a, …): so a row-value comparison (r.a, r.b) > (…) is one
 * index range, whatever the key's types (enums, uuids, collations, composites).
 */
const KEY_SQL = `
  CREATE FUNCTION capture.backfill_key_sql(tbl regclass, key text[], what text) RETURNS text
  LANGUAGE sql STABLE AS $fn$
    SELECT CASE what
      WHEN 'cols' THEN string_agg(format('r.%I', c), ', ' ORDER BY o)
      WHEN 'json' THEN 'jsonb_build_object(' || string_agg(format('%L, r.%I', c, c), ', ' ORDER BY o) || ')'
      WHEN 'desc' THEN string_agg(format('r.%I DESC', c), ', ' ORDER BY o)
      ELSE string_agg(format('(jsonb_populate_record(NULL::%s, %s)).%I', tbl, what, c), ', ' ORDER BY o) END
    FROM unnest(key) WITH ORDINALITY AS k(c, o)
  $fn$`;

/**
 * capture.backfill_start(tbl, where, destinations): checks the table (captured, with a primary
 * key; where's columns its own), fixes the end (the largest key now) and the estimate (the
 * planner's), and adds the backfill (completed at once when the table is empty). The table is read
 * through the alias r, its columns always qualified (r.a) and the row as r.*, so a column named r is
 * no trouble.
 */
const START = `
  CREATE FUNCTION capture.backfill_start(tbl regclass, wanted jsonb, for_sinks uuid[]) RETURNS capture.backfills
  LANGUAGE plpgsql AS $fn$
  DECLARE
    k capture.captured;
    key text[];
    unknown text[];
    filter text := 'true';
    end_key jsonb;
    plan jsonb;
    b capture.backfills;
  BEGIN
    SELECT * INTO k FROM capture.captured c WHERE c.relid = tbl;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'backfill: % is not under capture (capture it first: npm run capture -- enable %)', tbl, tbl
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF jsonb_typeof(capture.shape(tbl)->'key') <> 'array' THEN
      RAISE EXCEPTION 'backfill: % has no primary key, so its rows cannot be read in order and resumed; add one', tbl
        USING ERRCODE = 'invalid_table_definition';
    END IF;
    key := ARRAY(SELECT jsonb_array_elements_text(capture.shape(tbl)->'key'));
    IF wanted IS NOT NULL THEN
      IF jsonb_typeof(wanted) <> 'object' OR EXISTS (SELECT 1 FROM jsonb_each(wanted) w WHERE jsonb_typeof(w.value) IN ('object', 'array')) THEN
        RAISE EXCEPTION 'backfill: where must map column names to a string, number, boolean or null each' USING ERRCODE = 'invalid_parameter_value';
      END IF;
      SELECT array_agg(w.name ORDER BY w.name) INTO unknown FROM jsonb_object_keys(wanted) w(name)
      WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(capture.shape(tbl)->'columns') col WHERE col->>'name' = w.name);
      IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'backfill: % has no column %', tbl, array_to_string(unknown, ', ') USING ERRCODE = 'undefined_column';
      END IF;
      SELECT coalesce(string_agg(format('notification_matches(to_jsonb(r.%I), %L::jsonb)', w.key, w.value), ' AND '), 'true') INTO filter
      FROM jsonb_each(wanted) w;
    END IF;
    EXECUTE format('SELECT %s FROM %s r ORDER BY %s LIMIT 1',
                   capture.backfill_key_sql(tbl, key, 'json'), tbl, capture.backfill_key_sql(tbl, key, 'desc')) INTO end_key;
    EXECUTE format('EXPLAIN (FORMAT JSON) SELECT 1 FROM %s r WHERE %s', tbl, filter) INTO plan;
    INSERT INTO capture.backfills (relid, table_name, key, "where", destinations, end_key, estimate, actor, state, finished_at)
    VALUES (tbl, capture.qualified_name(k.shape->>'schema', k.shape->>'table'), key, nullif(wanted, '{}'), for_sinks, end_key,
            CASE WHEN end_key IS NULL THEN 0 ELSE (plan->0->'Plan'->>'Plan Rows')::bigint END, capture.actor(),
            CASE WHEN end_key IS NULL THEN 'completed' ELSE 'running' END,
            CASE WHEN end_key IS NULL THEN now() END)
    RETURNING * INTO b;
    RETURN b;
  END
  $fn$`;

/**
 * capture.backfill_chunk(id, max_rows): the backfill's next chunk, in the caller's transaction
 * (one statement: its own). Returns the rows it read and the backfill's state after it; no row
 * when another runner holds the backfill (a transaction-level advisory lock per backfill: one chunk
 * of a backfill at a time, across instances), nothing read when it is not running. The backfill's
 * row is locked only by the UPDATE at the end, so a pause or a cancel never waits for a chunk that
 * waits for a writer; a chunk that was under way still lands (its reads are as good as any), and
 * leaves the state the pause or cancel set.
 *
 * The chunk's upper key (hi) is the max_rows-th key after the cursor (or the end), found without
 * locks; then every row in (cursor, hi] is read FOR SHARE and appended, and the cursor moves to hi.
 * A row whose key a writer changes while the chunk waits for it is re-checked against the range, so
 * a key moved past hi is read in a later chunk (or not at all if past the end: its changes are in
 * the log) and never moves the cursor past rows not read yet.
 */
/** Any constant shared by every instance: with a backfill's id, the advisory lock its chunks take. */
const CHUNK_LOCK = 7_160_904;

const CHUNK = `
  CREATE FUNCTION capture.backfill_chunk(id bigint, max_rows int) RETURNS TABLE (read int, state text)
  LANGUAGE plpgsql AS $fn$
  DECLARE
    b capture.backfills;
    shape jsonb;
    key_cols text;
    lower text := 'true';
    filter text := 'true';
    hi jsonb;
    n int;
    done boolean;
  BEGIN
    IF NOT pg_try_advisory_xact_lock(${CHUNK_LOCK}, (backfill_chunk.id % 2147483647)::int) THEN
      RETURN;
    END IF;
    SELECT * INTO b FROM capture.backfills f WHERE f.id = backfill_chunk.id;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    IF b.state <> 'running' THEN
      RETURN QUERY SELECT 0, b.state;
      RETURN;
    END IF;
    shape := CASE WHEN EXISTS (SELECT 1 FROM capture.captured c WHERE c.relid = b.relid) THEN capture.shape(b.relid) END;
    IF shape IS NULL OR shape->'key' IS DISTINCT FROM to_jsonb(b.key) THEN
      UPDATE capture.backfills f
      SET state = CASE WHEN f.state = 'running' THEN 'failed' ELSE f.state END, updated_at = now(), finished_at = now(),
          error = CASE WHEN shape IS NULL THEN format('%s is no longer under capture', b.table_name)
                       ELSE format('the primary key of %s changed from (%s) to (%s)', b.table_name, array_to_string(b.key, ', '),
                                   coalesce((SELECT string_agg(c, ', ') FROM jsonb_array_elements_text(shape->'key') c), 'none')) END
      WHERE f.id = b.id;
      RETURN QUERY SELECT 0, 'failed'::text;
      RETURN;
    END IF;
    key_cols := capture.backfill_key_sql(b.relid, b.key, 'cols');
    IF b.cursor IS NOT NULL THEN
      lower := format('(%s) > (%s)', key_cols, capture.backfill_key_sql(b.relid, b.key, '$1'));
    END IF;
    IF b."where" IS NOT NULL THEN
      SELECT string_agg(format('notification_matches(to_jsonb(r.%I), %L::jsonb)', w.key, w.value), ' AND ') INTO filter
      FROM jsonb_each(b."where") w;
    END IF;
    EXECUTE format('SELECT %s FROM %s r WHERE %s AND (%s) <= (%s) AND %s ORDER BY %s OFFSET $3 - 1 LIMIT 1',
                   capture.backfill_key_sql(b.relid, b.key, 'json'), b.relid, lower, key_cols,
                   capture.backfill_key_sql(b.relid, b.key, '$2'), filter, key_cols)
      INTO hi USING b.cursor, b.end_key, max_rows;
    done := hi IS NULL OR hi = b.end_key;
    EXECUTE format($q$
      INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor, backfill_id)
      SELECT $4, $5, 'READ', %s, to_jsonb(r.*), $6, $7
      FROM %s r WHERE %s AND (%s) <= (%s) AND %s ORDER BY %s FOR SHARE OF r$q$,
      capture.backfill_key_sql(b.relid, b.key, 'json'), b.relid, lower, key_cols,
      capture.backfill_key_sql(b.relid, b.key, '$2'), filter, key_cols)
      USING b.cursor, coalesce(hi, b.end_key), NULL::int, shape->>'schema', shape->>'table', b.actor, b.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- The state as it is now (a pause or a cancel may have come meanwhile): completed only from running.
    UPDATE capture.backfills f
    SET cursor = coalesce(hi, b.end_key), rows_done = f.rows_done + n, chunk_size = max_rows, updated_at = now(),
        state = CASE WHEN done AND f.state = 'running' THEN 'completed' ELSE f.state END,
        estimate = CASE WHEN done THEN f.rows_done + n ELSE greatest(f.estimate, f.rows_done + n) END,
        finished_at = CASE WHEN done AND f.state = 'running' THEN now() ELSE f.finished_at END
    WHERE f.id = b.id
    RETURNING f.state INTO b.state;
    IF n > 0 THEN
      PERFORM capture.wake_drainer();
    END IF;
    RETURN QUERY SELECT n, b.state;
  END
  $fn$`;

/** Replaces `from` in a function's definition, which must be there: a body that moved on is an error, not a silent no-op. */
function replacing(definition: string, from: string | RegExp, to: string): string {
  const now = definition.replace(from, to);
  if (now === definition) throw new Error(`Backfills: ${String(from)} was not found`);
  return now;
}

/** capture.well_formed as CaptureFollowsSchema wrote it, with READ rows: a key, the row, no old row, their backfill. */
export const WELL_FORMED = replacing(
  PREVIOUS_WELL_FORMED.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'),
  "WHEN r.op = 'TRUNCATE'",
  `WHEN r.op = 'READ' THEN jsonb_typeof(r.row_pk) = 'object' AND r.row_pk <> '{}' AND r.new IS NOT NULL
                     AND r.old IS NULL AND r.backfill_id IS NOT NULL
                WHEN r.op = 'TRUNCATE'`,
);

/** Reads are `<table>.read`, their payload names the backfill (SQL readers: the notifications view). */
export const PAYLOAD = replacing(
  replacing(PREVIOUS_PAYLOAD, "WHEN 'TRUNCATE' THEN '.truncated' ELSE", "WHEN 'TRUNCATE' THEN '.truncated' WHEN 'READ' THEN '.read' ELSE"),
  /(\|\| CASE WHEN c\.op = 'SCHEMA_CHANGE' THEN jsonb_build_object\('schemaChange', c\.new\) ELSE '\{\}' END)/,
  `$1
      || CASE WHEN c.backfill_id IS NOT NULL THEN jsonb_build_object('backfill', c.backfill_id::text) ELSE '{}' END`,
);
