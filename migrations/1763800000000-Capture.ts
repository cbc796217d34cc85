import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Change capture: every committed row change of a table under capture becomes a row of the
 * journal capture.changes, written by the same transaction (so it exists iff that commits).
 *
 * Commit order: at pre-commit, a deferred constraint trigger that fires once per transaction
 * records the transaction in capture.pending with a number from a sequence. A transaction that
 * waited for another's row lock takes its number after that one committed, so numbers order
 * conflicting transactions as they committed. The drainer deletes a transaction's pending row
 * when it has been turned into notifications (the cursor); see JournalReader for the rule that
 * decides which pending transactions are safe to take.
 *
 * Wake-up: the pre-commit trigger NOTIFYs only while the drainer has said, in the one-row
 * unlogged table capture.wakeup, that it sleeps on LISTEN; busy writers never take the NOTIFY
 * commit lock.
 */
// The definitions as this migration made them; the next one replaces them and its down() restores them.
export const FIRST_CHANGE_OF_TRANSACTION = `
      CREATE OR REPLACE FUNCTION capture.first_change_of_transaction() RETURNS boolean
      LANGUAGE plpgsql AS $fn$
      DECLARE
        current text := pg_current_xact_id()::text;
      BEGIN
        -- A transaction-local marker: rolled back with a savepoint, together with the
        -- deferred event it let through, so the next change queues it again.
        IF current_setting('capture.sequenced_tx', true) IS NOT DISTINCT FROM current THEN
          RETURN false;
        END IF;
        PERFORM set_config('capture.sequenced_tx', current, true);
        RETURN true;
      END
      $fn$`;

export const SEQUENCE_COMMIT = `
      CREATE OR REPLACE FUNCTION capture.sequence_commit() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        -- Usually this fires once, at commit. If it fires earlier (SET CONSTRAINTS ALL IMMEDIATE)
        -- and the transaction captures more afterwards, clearing the marker queues it again, and
        -- the last firing, after the last captured write, sets the number.
        PERFORM set_config('capture.sequenced_tx', '', true);
        INSERT INTO capture.pending (tx, seq) VALUES (pg_current_xact_id(), nextval('capture.commit_seq'))
        ON CONFLICT (tx) DO UPDATE SET seq = excluded.seq;
        IF (SELECT listening FROM capture.wakeup WHERE id = 1) THEN
          PERFORM pg_notify('capture', '');
        END IF;
        RETURN NULL;
      END
      $fn$`;

export const CAPTURE_ROW = `
      CREATE OR REPLACE FUNCTION capture.capture_row() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      DECLARE
        pk_count int := TG_ARGV[0]::int;
        pk_columns text[] := TG_ARGV[1:pk_count];
        watched text[] := TG_ARGV[pk_count + 1:];
        old_row jsonb;
        new_row jsonb;
        changed text[];
        key_row jsonb;
      BEGIN
        IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
        IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
        IF TG_OP = 'UPDATE' THEN
          SELECT array_agg(n.key ORDER BY n.key) INTO changed
          FROM jsonb_each(new_row) n
          WHERE n.value IS DISTINCT FROM old_row -> n.key;
          IF changed IS NULL THEN RETURN NULL; END IF;                    -- changed nothing
          IF cardinality(watched) > 0 AND NOT changed && watched THEN RETURN NULL; END IF;
        END IF;
        key_row := coalesce(new_row, old_row);
        INSERT INTO capture.changes (schema_name, table_name, op, row_pk, old, new, changed_columns, actor)
        VALUES (
          TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
          (SELECT jsonb_object_agg(k, key_row -> k) FROM unnest(pk_columns) k),
          old_row, new_row, changed,
          coalesce(nullif(current_setting('rowcast.actor', true), ''), session_user)
        );
        RETURN NULL;
      END
      $fn$`;

export const ENABLE = `
      CREATE OR REPLACE FUNCTION capture.enable(tbl regclass, columns text[] DEFAULT NULL) RETURNS void
      LANGUAGE plpgsql AS $fn$
      DECLARE
        pk text[];
        unknown text[];
        rel record;
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
        IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = rel.relname || '_capture') THEN
          EXECUTE format('DROP TRIGGER %I ON %s', rel.relname || '_capture', tbl);
        END IF;
        EXECUTE format(
          'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION capture.capture_row(%s)',
          rel.relname || '_capture', tbl,
          (SELECT string_agg(quote_literal(arg), ', ')
           FROM unnest(ARRAY[cardinality(pk)::text] || pk || coalesce(columns, '{}')) arg));
      END
      $fn$`;

export const DISABLE = `
      CREATE OR REPLACE FUNCTION capture.disable(tbl regclass) RETURNS boolean
      LANGUAGE plpgsql AS $fn$
      DECLARE
        name text := (SELECT relname FROM pg_class WHERE oid = tbl) || '_capture';
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = name) THEN
          RETURN false; -- was not captured
        END IF;
        EXECUTE format('DROP TRIGGER %I ON %s', name, tbl);
        RETURN true;
      END
      $fn$`;

export const TABLES_VIEW = `
      CREATE OR REPLACE VIEW capture.tables AS
      SELECT n.nspname AS schema_name, c.relname AS table_name,
             (SELECT nullif(args[2 + args[1]::int : cardinality(args) - 1], '{}')
              FROM (SELECT string_to_array(encode(t.tgargs, 'escape'), '\\000') AS args) a) AS columns
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgfoid = 'capture.capture_row()'::regprocedure AND NOT t.tgisinternal`;

export const CURSOR_TABLE = `
      CREATE TABLE capture.cursor (
        id int PRIMARY KEY CHECK (id = 1),
        tx xid8,
        last_change_id bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`;

export const SEQUENCE_COMMIT_TRIGGER = `
      CREATE CONSTRAINT TRIGGER changes_sequence_commit AFTER INSERT ON capture.changes
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (capture.first_change_of_transaction())
        EXECUTE FUNCTION capture.sequence_commit()`;

export class Capture1763800000000 implements MigrationInterface {
  name = 'Capture1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE SCHEMA capture`);
    await queryRunner.query(`
      CREATE TABLE capture.changes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
        schema_name text NOT NULL,
        table_name text NOT NULL,
        op text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE')),
        row_pk jsonb NOT NULL,
        old jsonb,
        new jsonb,
        changed_columns text[],
        actor text NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await queryRunner.query(`CREATE INDEX changes_tx_id_idx ON capture.changes (tx, id)`);
    // Only retention reads by time, and rows arrive in time order: BRIN costs writers next to nothing.
    await queryRunner.query(`CREATE INDEX changes_changed_at_idx ON capture.changes USING brin (changed_at)`);
    await queryRunner.query(`CREATE SEQUENCE capture.commit_seq`);
    await queryRunner.query(`
      CREATE TABLE capture.pending (
        tx xid8 PRIMARY KEY,
        seq bigint NOT NULL -- from capture.commit_seq, so unique without an index to maintain
      )`);
    // The drainer's place inside a transaction it has only partly drained (a 100,000-row one).
    await queryRunner.query(CURSOR_TABLE);
    await queryRunner.query(`INSERT INTO capture.cursor (id) VALUES (1)`);
    await queryRunner.query(`CREATE UNLOGGED TABLE capture.wakeup (id int PRIMARY KEY CHECK (id = 1), listening boolean NOT NULL)`);
    await queryRunner.query(`INSERT INTO capture.wakeup VALUES (1, false)`);

    await queryRunner.query(FIRST_CHANGE_OF_TRANSACTION);

    await queryRunner.query(SEQUENCE_COMMIT);
    await queryRunner.query(SEQUENCE_COMMIT_TRIGGER);

    // TG_ARGV: the number of primary key columns, those columns, then the column filter.
    await queryRunner.query(CAPTURE_ROW);

    await queryRunner.query(ENABLE);

    await queryRunner.query(DISABLE);

    // What is under capture: one row per table, with its column filter (NULL: every column).
    // tgargs holds the trigger arguments, each ended by a zero byte.
    await queryRunner.query(TABLES_VIEW);

    await queryRunner.query(`SELECT capture.enable('public.invoices')`);
    await queryRunner.query(`SELECT capture.enable('public.invoice_items')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Dropping the schema drops the capture triggers with their function.
    await queryRunner.query(`DROP SCHEMA capture CASCADE`);
  }
}
