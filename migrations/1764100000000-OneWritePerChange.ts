import { MigrationInterface, QueryRunner } from 'typeorm';
import {
  CAPTURE_ROW,
  CURSOR_TABLE,
  DISABLE as LEGACY_DISABLE,
  ENABLE as LEGACY_ENABLE,
  FIRST_CHANGE_OF_TRANSACTION,
  SEQUENCE_COMMIT,
  SEQUENCE_COMMIT_TRIGGER,
  TABLES_VIEW as LEGACY_TABLES_VIEW,
} from './1763800000000-Capture.js';

/**
 * One write per change (issue 10).
 *
 * Writers: each captured table gets three statement-level triggers with transition tables and a
 * function generated for that table (its key columns and column filter written into static SQL),
 * which appends one journal row per changed row in one INSERT … SELECT per statement. No
 * per-row function calls, no per-transaction numbering, no changed-columns diff (the reader
 * computes it): the journal row is all a change costs a writer.
 *
 * Commit order without numbering: the drainer takes batches between two snapshots
 * (capture.drain_cursor.snapshot → pg_current_snapshot(), PgQ's model): a batch holds the
 * transactions that committed in between, so a transaction is never in a batch before one that
 * committed before it. Inside a batch, transactions go in the order of their last journal id: a
 * transaction that had to wait for another's row lock wrote its row, and so took its id, after
 * that one committed. See JournalReader.
 *
 * The log: the journal row is the change's one stored copy. A log position (notification id) is
 * a batch's first_id plus the change's place in the batch's change_ids; one row per batch, not
 * per change. Notifications written before this migration stay in notifications_legacy (their ids
 * are all below the first batch's), and the view `notifications` shows both, for SQL readers.
 */
export class OneWritePerChange1764100000000 implements MigrationInterface {
  name = 'OneWritePerChange1764100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    // Writers of captured tables must not write old-style journal rows after the hand-over below.
    await sql(LOCK_CAPTURED_TABLES);

    await sql(`ALTER TABLE notifications RENAME TO notifications_legacy`);
    await sql(`
      CREATE TABLE notification_batches (
        last_id bigint PRIMARY KEY,
        first_id bigint NOT NULL,
        change_ids bigint[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT notification_batches_ids CHECK (last_id = first_id + cardinality(change_ids) - 1)
      )`);
    await sql(`CREATE INDEX notification_batches_created_at_idx ON notification_batches USING brin (created_at)`);

    // Journal rows not yet drained when the old drainer stopped become the first batch, in the old
    // drainer's order (commit number, then id; a partly drained transaction from its cursor on).
    await sql(`
      INSERT INTO notification_batches (first_id, last_id, change_ids)
      SELECT s.next, s.next + cardinality(s.ids) - 1, s.ids
      FROM (
        SELECT coalesce((SELECT max(id) FROM notifications_legacy), 0) + 1 AS next,
               array_agg(c.id ORDER BY p.seq, c.id) AS ids
        FROM capture.pending p
        JOIN capture.changes c ON c.tx = p.tx
        LEFT JOIN capture.cursor k ON k.id = 1 AND k.tx = p.tx
        WHERE k.tx IS NULL OR c.id > k.last_change_id
      ) s
      WHERE s.ids IS NOT NULL`);

    await sql(`DROP TRIGGER changes_sequence_commit ON capture.changes`);
    await sql(`DROP FUNCTION capture.sequence_commit()`);
    await sql(`DROP FUNCTION capture.first_change_of_transaction()`);
    await sql(`DROP TABLE capture.pending`);
    await sql(`DROP SEQUENCE capture.commit_seq`);
    await sql(`DROP TABLE capture.cursor`);
    // Everything visible in this snapshot has been drained (above, or before): every old-style
    // row's writer has finished (the locks), and later writers get later xids.
    await sql(`
      CREATE TABLE capture.drain_cursor (
        id int PRIMARY KEY CHECK (id = 1),
        snapshot pg_snapshot NOT NULL,
        -- A batch drained in several transactions (a 100,000-row one): its upper snapshot, its
        -- transactions not yet finished in order (the first one drained up to last_change_id).
        batch_snapshot pg_snapshot,
        batch_txs xid8[],
        last_change_id bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await sql(`INSERT INTO capture.drain_cursor (id, snapshot) VALUES (1, pg_current_snapshot())`);
    // Retention now follows the log's batches (their change_ids), never the journal's time: the
    // BRIN index on changed_at was one more thing every journal row paid for.
    await sql(`DROP INDEX capture.changes_changed_at_idx`);

    await sql(ACTOR);
    await sql(WAKE_DRAINER);
    await sql(TRIGGER_FUNCTION_NAME);
    const tables: { name: string; columns: string[] | null }[] = await queryRunner.query(
      `SELECT format('%I.%I', schema_name, table_name) AS name, columns FROM capture.tables`,
    );
    await sql(`DROP VIEW capture.tables`);
    await sql(`DROP FUNCTION capture.enable(regclass, text[])`);
    await sql(`DROP FUNCTION capture.disable(regclass)`);
    await sql(ENABLE);
    await sql(DISABLE);
    await sql(TABLES_VIEW);
    for (const table of tables) {
      await queryRunner.query(`SELECT capture.enable($1::regclass, $2::text[])`, [table.name, table.columns]);
    }
    await sql(`DROP FUNCTION capture.capture_row()`);
    await sql(BACKLOG);
    await sql(MOVE_CURSOR);
    await sql(TAKE_BATCH);
    await sql(PAYLOAD);
    await sql(NOTIFICATIONS_VIEW);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(LOCK_CAPTURED_TABLES);
    await sql(`DROP VIEW notifications`);
    // The log as rows again, with the payloads the view builds.
    await sql(`
      INSERT INTO notifications_legacy (id, change_id, event, table_name, entity_id, payload, created_at)
      OVERRIDING SYSTEM VALUE
      SELECT b.first_id + u.ord - 1, c.id, capture.event_name(c.schema_name, c.table_name, c.op),
             capture.qualified_name(c.schema_name, c.table_name), capture.entity_id(c.row_pk), capture.payload(c), b.created_at
      FROM notification_batches b
      CROSS JOIN LATERAL unnest(b.change_ids) WITH ORDINALITY AS u(change_id, ord)
      JOIN capture.changes c ON c.id = u.change_id`);
    await sql(`SELECT setval(pg_get_serial_sequence('notifications_legacy', 'id'),
                             greatest(1, (SELECT max(id) FROM notifications_legacy)))`);
    await sql(`ALTER TABLE notifications_legacy RENAME TO notifications`);
    await sql(`DROP TABLE notification_batches`);

    await sql(`CREATE SEQUENCE capture.commit_seq`);
    await sql(`CREATE TABLE capture.pending (tx xid8 PRIMARY KEY, seq bigint NOT NULL)`);
    // Transactions not yet drained go back to pending, in the order this drainer would have taken them.
    await sql(`
      INSERT INTO capture.pending (tx, seq)
      SELECT t.tx, nextval('capture.commit_seq')
      FROM (
        SELECT c.tx FROM capture.changes c
        WHERE NOT EXISTS (SELECT 1 FROM notifications n WHERE n.change_id = c.id)
        GROUP BY c.tx ORDER BY max(c.id)
      ) t`);
    await sql(CURSOR_TABLE);
    await sql(`INSERT INTO capture.cursor (id) VALUES (1)`);
    await sql(`DROP FUNCTION capture.take_batch(int, bigint)`);
    await sql(`DROP FUNCTION capture.move_cursor(capture.drain_cursor, pg_snapshot, pg_snapshot, xid8[], bigint)`);
    await sql(`DROP FUNCTION capture.backlog()`);
    await sql(`DROP FUNCTION capture.undrained()`);
    await sql(`DROP TABLE capture.drain_cursor`);
    await sql(`CREATE INDEX changes_changed_at_idx ON capture.changes USING brin (changed_at)`);
    await sql(FIRST_CHANGE_OF_TRANSACTION);
    await sql(SEQUENCE_COMMIT);
    await sql(SEQUENCE_COMMIT_TRIGGER);

    await sql(CAPTURE_ROW);
    const tables: { name: string; columns: string[] | null }[] = await queryRunner.query(
      `SELECT format('%I.%I', schema_name, table_name) AS name, columns FROM capture.tables`,
    );
    for (const table of tables) await queryRunner.query(`SELECT capture.disable($1::regclass)`, [table.name]);
    await sql(`DROP VIEW capture.tables`);
    await sql(`DROP FUNCTION capture.enable(regclass, text[])`);
    await sql(`DROP FUNCTION capture.disable(regclass)`);
    await sql(LEGACY_ENABLE);
    await sql(LEGACY_DISABLE);
    await sql(LEGACY_TABLES_VIEW);
    for (const table of tables) {
      await queryRunner.query(`SELECT capture.enable($1::regclass, $2::text[])`, [table.name, table.columns]);
    }
    await sql(`DROP FUNCTION capture.payload(capture.changes)`);
    await sql(`DROP FUNCTION capture.event_name(text, text, text)`);
    await sql(`DROP FUNCTION capture.qualified_name(text, text)`);
    await sql(`DROP FUNCTION capture.entity_id(jsonb)`);
    await sql(`DROP FUNCTION capture.trigger_function_name(regclass)`);
    await sql(`DROP FUNCTION capture.wake_drainer()`);
    await sql(`DROP FUNCTION capture.actor()`);
  }
}

/** Writers of captured tables wait (and none is half-way) while capture changes its form. */
const LOCK_CAPTURED_TABLES = `DO $$
  DECLARE t record;
  BEGIN
    FOR t IN SELECT format('%I.%I', schema_name, table_name) AS name FROM capture.tables LOOP
      EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', t.name);
    END LOOP;
  END $$`;

const ACTOR = `
  CREATE FUNCTION capture.actor() RETURNS text
  LANGUAGE sql STABLE AS $fn$
    SELECT coalesce(nullif(current_setting('rowcast.actor', true), ''), session_user)
  $fn$`;

/** NOTIFY only while the drainer sleeps on LISTEN: busy writers never take NOTIFY's commit lock. */
const WAKE_DRAINER = `
  CREATE FUNCTION capture.wake_drainer() RETURNS void
  LANGUAGE plpgsql AS $fn$
  BEGIN
    IF (SELECT listening FROM capture.wakeup WHERE id = 1) THEN
      PERFORM pg_notify('capture', '');
    END IF;
  END
  $fn$`;

/** One generated trigger function per captured table, named after it (and a hash, for long names). */
export const TRIGGER_FUNCTION_NAME = `
  CREATE FUNCTION capture.trigger_function_name(tbl regclass) RETURNS text
  LANGUAGE sql STABLE AS $fn$
    SELECT format('capture.%I', 'on_' || left(n.nspname || '.' || c.relname, 40) || '_' || left(md5(n.nspname || '.' || c.relname), 8))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl
  $fn$`;

/**
 * capture.enable(tbl, columns): three statement-level triggers and the table's own function. The
 * UPDATE branch pairs the transition tables' rows by position (PostgreSQL appends a row's old and
 * new versions together) and skips rows whose image did not change, or whose watched columns did
 * not (*=: byte-wise, so it works for types without an equality operator, json included).
 */
export const ENABLE = `
  CREATE FUNCTION capture.enable(tbl regclass, columns text[] DEFAULT NULL) RETURNS void
  LANGUAGE plpgsql AS $fn$
  DECLARE
    pk text[];
    unknown text[];
    rel record;
    fn text := capture.trigger_function_name(tbl);
    pk_of_new text;
    pk_of_old text;
    changed text := 'NOT (o.r *= n.r)';
    op text;
  BEGIN
    SELECT c.relname, n.nspname, c.relkind INTO rel
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    IF rel.relkind NOT IN ('r', 'p') THEN
      RAISE EXCEPTION 'capture.enable: % is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF rel.nspname = 'capture' THEN
      RAISE EXCEPTION 'capture.enable: the journal''s own tables cannot be captured' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(a.attname::text ORDER BY k.ord) INTO pk
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = tbl AND i.indisprimary;
    IF pk IS NULL THEN
      RAISE EXCEPTION 'capture.enable: % has no primary key', tbl USING ERRCODE = 'invalid_table_definition';
    END IF;
    SELECT array_agg(col) INTO unknown FROM unnest(columns) col
    WHERE NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped);
    IF unknown IS NOT NULL THEN
      RAISE EXCEPTION 'capture.enable: % has no column %', tbl, array_to_string(unknown, ', ') USING ERRCODE = 'undefined_column';
    END IF;
    PERFORM capture.disable(tbl);

    SELECT 'jsonb_build_object(' || string_agg(format('%L, (n.r).%I', k, k), ', ') || ')',
           'jsonb_build_object(' || string_agg(format('%L, (o.r).%I', k, k), ', ') || ')'
      INTO pk_of_new, pk_of_old FROM unnest(pk) k;
    IF cardinality(columns) > 0 THEN
      changed := format('NOT (ROW(%s)::record *= ROW(%s)::record)',
        (SELECT string_agg(format('(o.r).%I', col), ', ') FROM unnest(columns) col),
        (SELECT string_agg(format('(n.r).%I', col), ', ') FROM unnest(columns) col));
    END IF;
    EXECUTE format($body$
      CREATE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $trigger$
      DECLARE
        who text := capture.actor();
      BEGIN
        IF TG_OP = 'INSERT' THEN
          INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor)
          SELECT %2$L, %3$L, 'INSERT', %4$s, to_jsonb(n.r), who
          FROM (SELECT r FROM capture_new AS r) AS n;
        ELSIF TG_OP = 'UPDATE' THEN
          INSERT INTO capture.changes (schema_name, table_name, op, row_pk, old, new, actor)
          SELECT %2$L, %3$L, 'UPDATE', %4$s, to_jsonb(o.r), to_jsonb(n.r), who
          FROM (SELECT r, row_number() OVER () AS i FROM capture_old AS r) o
          JOIN (SELECT r, row_number() OVER () AS i FROM capture_new AS r) n USING (i)
          WHERE %6$s
          ORDER BY i;
        ELSE
          INSERT INTO capture.changes (schema_name, table_name, op, row_pk, old, actor)
          SELECT %2$L, %3$L, 'DELETE', %5$s, to_jsonb(o.r), who
          FROM (SELECT r FROM capture_old AS r) AS o;
        END IF;
        IF FOUND THEN
          PERFORM capture.wake_drainer();
        END IF;
        RETURN NULL;
      END
      $trigger$ $body$, fn, rel.nspname, rel.relname, pk_of_new, pk_of_old, changed);
    -- The triggers' arguments record the column filter, for capture.tables.
    FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
      EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION %s(%s)',
        rel.relname || '_capture_' || op, upper(op), tbl,
        CASE op WHEN 'insert' THEN 'NEW TABLE AS capture_new'
                WHEN 'update' THEN 'OLD TABLE AS capture_old NEW TABLE AS capture_new'
                ELSE 'OLD TABLE AS capture_old' END,
        fn, coalesce((SELECT string_agg(quote_literal(col), ', ') FROM unnest(columns) col), ''));
    END LOOP;
  END
  $fn$`;

export const DISABLE = `
  CREATE FUNCTION capture.disable(tbl regclass) RETURNS boolean
  LANGUAGE plpgsql AS $fn$
  DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = tbl);
    was boolean := false;
    op text;
  BEGIN
    FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
      IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = name || '_capture_' || op) THEN
        EXECUTE format('DROP TRIGGER %I ON %s', name || '_capture_' || op, tbl);
        was := true;
      END IF;
    END LOOP;
    -- A table captured by the row-level trigger of the first capture migration.
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = name || '_capture') THEN
      EXECUTE format('DROP TRIGGER %I ON %s', name || '_capture', tbl);
      was := true;
    END IF;
    IF to_regproc(capture.trigger_function_name(tbl)) IS NOT NULL THEN
      EXECUTE format('DROP FUNCTION %s()', capture.trigger_function_name(tbl));
    END IF;
    RETURN was;
  END
  $fn$`;

/** What is under capture: one row per table, with its column filter (NULL: every column). */
export const TABLES_VIEW = `
  CREATE VIEW capture.tables AS
  SELECT n.nspname AS schema_name, c.relname AS table_name,
         nullif((string_to_array(encode(t.tgargs, 'escape'), '\\000'))[1:t.tgnargs], '{}') AS columns
  FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE t.tgname = c.relname || '_capture_insert' AND NOT t.tgisinternal
    AND t.tgfoid = to_regproc(capture.trigger_function_name(c.oid))`;

/** Journal rows not drained yet: committed after the drain cursor's snapshot, or left in its batch. */
const BACKLOG = `
  CREATE FUNCTION capture.undrained() RETURNS SETOF capture.changes
  LANGUAGE sql STABLE AS $fn$
    -- Committed after the batch in progress (or after the cursor's snapshot when there is none)...
    SELECT c.*
    FROM capture.drain_cursor k, capture.changes c
    WHERE c.tx >= pg_snapshot_xmin(coalesce(k.batch_snapshot, k.snapshot))
      AND c.tx < pg_snapshot_xmax(coalesce(k.batch_snapshot, k.snapshot))
      AND c.tx = ANY (ARRAY(SELECT pg_snapshot_xip(coalesce(k.batch_snapshot, k.snapshot))))
      AND pg_visible_in_snapshot(c.tx, pg_current_snapshot())
    UNION ALL
    SELECT c.*
    FROM capture.drain_cursor k, capture.changes c
    WHERE c.tx >= pg_snapshot_xmax(coalesce(k.batch_snapshot, k.snapshot))
      AND c.tx < pg_snapshot_xmax(pg_current_snapshot())
      AND pg_visible_in_snapshot(c.tx, pg_current_snapshot())
    UNION ALL
    -- ...and what the batch in progress has not taken yet (each transaction by the (tx, id) index).
    SELECT c.*
    FROM capture.drain_cursor k
    CROSS JOIN LATERAL unnest(k.batch_txs) WITH ORDINALITY AS t(tx, i)
    JOIN capture.changes c ON c.tx = t.tx AND (t.i > 1 OR c.id > k.last_change_id)
  $fn$;
  CREATE FUNCTION capture.backlog() RETURNS bigint
  LANGUAGE sql STABLE AS $fn$ SELECT count(*) FROM capture.undrained() $fn$`;

/**
 * The drainer's next batch, in delivery order, at most max_rows rows and max_bytes of old + new
 * (at least one row), moving capture.drain_cursor past it in the caller's transaction: the caller
 * commits only once the rows are in the log. No rows (and no write) when nothing committed since
 * the cursor. One call, so one round trip and plans cached for the session; see JournalReader.
 */
export const TAKE_BATCH = `
  CREATE FUNCTION capture.take_batch(max_rows int, max_bytes bigint) RETURNS SETOF capture.changes
  LANGUAGE plpgsql AS $fn$
  DECLARE
    k capture.drain_cursor;
    upper pg_snapshot;
    txs xid8[];
    after bigint;
    taken int := 0;
    bytes bigint := 0;
    size bigint;
    r capture.changes;
  BEGIN
    -- Not FOR UPDATE: that would write (and wait for a flush) even when nothing is new. The
    -- cursor's UPDATE below checks it still is what this read (the fence against a second drainer).
    SELECT * INTO k FROM capture.drain_cursor WHERE id = 1;
    IF k.batch_txs IS NULL THEN
      upper := pg_current_snapshot();
      -- Two bounded index ranges on (tx, id): the lower snapshot's open transactions, and
      -- everything that began after it. (One condition with an OR, or a range bounded on one side,
      -- and the planner scans the whole journal once it is large.)
      SELECT array_agg(b.tx ORDER BY b.last) INTO txs
      FROM (SELECT c.tx, max(c.id) AS last FROM capture.changes c
            WHERE c.tx >= pg_snapshot_xmin(k.snapshot) AND c.tx < pg_snapshot_xmax(k.snapshot)
              AND c.tx = ANY (ARRAY(SELECT pg_snapshot_xip(k.snapshot))) AND pg_visible_in_snapshot(c.tx, upper)
            GROUP BY c.tx
            UNION ALL
            SELECT c.tx, max(c.id) AS last FROM capture.changes c
            WHERE c.tx >= pg_snapshot_xmax(k.snapshot) AND c.tx < pg_snapshot_xmax(upper) AND pg_visible_in_snapshot(c.tx, upper)
            GROUP BY c.tx) b;
      IF txs IS NULL THEN
        RETURN;
      END IF;
      after := 0;
    ELSE
      upper := k.batch_snapshot;
      txs := k.batch_txs;
      after := k.last_change_id;
    END IF;
    FOR i IN 1 .. cardinality(txs) LOOP
      IF i > 1 THEN
        after := 0;
      END IF;
      FOR r IN SELECT * FROM capture.changes c WHERE c.tx = txs[i] AND c.id > after ORDER BY c.id LIMIT max_rows - taken LOOP
        -- The journal is an ordinary table anyone with SQL access can write to: a row without the
        -- shape the capture triggers write is dropped with a warning, never allowed to stop the drain.
        IF NOT (r.schema_name <> '' AND r.table_name <> '' AND jsonb_typeof(r.row_pk) = 'object' AND r.row_pk <> '{}'
                AND (r.op = 'DELETE') = (r.new IS NULL) AND (r.op = 'INSERT') = (r.old IS NULL)
                AND coalesce(jsonb_typeof(r.new), 'object') = 'object' AND coalesce(jsonb_typeof(r.old), 'object') = 'object') THEN
          RAISE WARNING 'capture: dropping malformed journal row %', r.id;
          DELETE FROM capture.changes WHERE id = r.id;
          after := r.id;
          CONTINUE;
        END IF;
        size := coalesce(pg_column_size(r.old), 0) + coalesce(pg_column_size(r.new), 0);
        IF taken > 0 AND bytes + size > max_bytes THEN
          PERFORM capture.move_cursor(k, k.snapshot, upper, txs[i:], after);
          RETURN;
        END IF;
        RETURN NEXT r;
        taken := taken + 1;
        bytes := bytes + size;
        after := r.id;
        IF taken = max_rows THEN
          PERFORM capture.move_cursor(k, k.snapshot, upper, txs[i:], after);
          RETURN;
        END IF;
      END LOOP;
    END LOOP;
    PERFORM capture.move_cursor(k, upper, NULL, NULL, 0);
  END
  $fn$`;

/** Moves the drain cursor from \`k\`, which must still be where it is; otherwise another drainer moved it. */
const MOVE_CURSOR = `
  CREATE FUNCTION capture.move_cursor(k capture.drain_cursor, snapshot pg_snapshot, batch_snapshot pg_snapshot,
                                      batch_txs xid8[], last_change_id bigint) RETURNS void
  LANGUAGE plpgsql AS $fn$
  BEGIN
    UPDATE capture.drain_cursor c
    SET snapshot = move_cursor.snapshot, batch_snapshot = move_cursor.batch_snapshot, batch_txs = move_cursor.batch_txs,
        last_change_id = move_cursor.last_change_id, updated_at = now()
    WHERE c.id = 1 AND c.snapshot::text = k.snapshot::text AND c.batch_txs IS NOT DISTINCT FROM k.batch_txs
      AND c.last_change_id = k.last_change_id;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'capture: the drain cursor moved under this drainer (another drainer is running)'
        USING ERRCODE = 'serialization_failure';
    END IF;
  END
  $fn$`;

/**
 * A journal row as a notification: its event name, table, entity and payload, for SQL readers
 * (the view below). The service builds the same from the same columns (notification.mapper.ts);
 * a test holds the two together.
 */
export const PAYLOAD = `
  CREATE FUNCTION capture.qualified_name(schema_name text, table_name text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN schema_name = 'public' THEN table_name ELSE schema_name || '.' || table_name END
  $fn$;
  CREATE FUNCTION capture.event_name(schema_name text, table_name text, op text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT capture.qualified_name(schema_name, table_name)
           || CASE op WHEN 'INSERT' THEN '.created' WHEN 'UPDATE' THEN '.updated' ELSE '.deleted' END
  $fn$;
  CREATE FUNCTION capture.entity_id(row_pk jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN (SELECT count(*) FROM jsonb_object_keys(row_pk)) = 1
                THEN (SELECT v #>> '{}' FROM jsonb_each(row_pk) e(k, v))
                ELSE row_pk::text END
  $fn$;
  CREATE FUNCTION capture.payload(c capture.changes) RETURNS jsonb
  LANGUAGE sql STABLE AS $fn$
    SELECT jsonb_build_object(
      'schema', c.schema_name, 'table', c.table_name, 'op', c.op, 'pk', c.row_pk,
      'new', c.new, 'old', c.old,
      'changedColumns', CASE WHEN c.changed_columns IS NOT NULL THEN to_jsonb(c.changed_columns)
                             WHEN c.op = 'UPDATE' THEN (
                               SELECT coalesce(jsonb_agg(k ORDER BY k COLLATE "C"), '[]')
                               FROM jsonb_each(c.new) e(k, v) WHERE v IS DISTINCT FROM c.old -> k) END,
      'actor', c.actor, 'txId', c.tx::text,
      'changedAt', to_char(c.changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  $fn$`;

/** The whole log for SQL readers (psql, reports): what REST returns, with the filter columns. */
export const NOTIFICATIONS_VIEW = `
  CREATE VIEW notifications AS
  SELECT id, change_id, event, table_name, entity_id, payload, created_at FROM notifications_legacy
  UNION ALL
  SELECT b.first_id + u.ord - 1, c.id, capture.event_name(c.schema_name, c.table_name, c.op),
         capture.qualified_name(c.schema_name, c.table_name), capture.entity_id(c.row_pk), capture.payload(c), b.created_at
  FROM notification_batches b
  CROSS JOIN LATERAL unnest(b.change_ids) WITH ORDINALITY AS u(change_id, ord)
  JOIN capture.changes c ON c.id = u.change_id`;
