import { MigrationInterface, QueryRunner } from 'typeorm';
import { PAYLOAD as PREVIOUS_PAYLOAD, WELL_FORMED as PREVIOUS_WELL_FORMED } from './1764900000000-Backfills.js';

/**
 * A backfill's start and end as notifications in the log (issue 19): `<table>.backfill_started`
 * before its first read, `<table>.backfill_completed` after its last one (in the transaction of the
 * chunk that completed it), `<table>.backfill_stopped` when it is cancelled or fails. A consumer
 * rebuilding a copy of the table learns where the reads begin and end in the same ordered stream.
 *
 * They are journal rows (ops BACKFILL_STARTED, BACKFILL_COMPLETED, BACKFILL_STOPPED) about the whole
 * table (row_pk NULL), with `new` = the backfill {id, state, where, destinations, rows, estimate,
 * error} and backfill_id set, written by a trigger on capture.backfills when its state moves: so
 * whatever moves it (REST, the CLI, SQL, the chunk) tells the log, in its own transaction.
 */
export class BackfillEvents1764920000000 implements MigrationInterface {
  name = 'BackfillEvents1764920000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(`ALTER TABLE capture.changes DROP CONSTRAINT changes_op_check`);
    await sql(`ALTER TABLE capture.changes ADD CONSTRAINT changes_op_check
               CHECK (op IN (${OPS.map((op) => `'${op}'`).join(', ')})) NOT VALID`);
    await sql(`ALTER TABLE capture.changes VALIDATE CONSTRAINT changes_op_check`);
    await sql(WELL_FORMED);
    await sql(PAYLOAD);
    await sql(DESTINATIONS);
    await sql(TELL);
    await sql(`CREATE TRIGGER backfill_events AFTER INSERT OR UPDATE OF state ON capture.backfills
               FOR EACH ROW EXECUTE FUNCTION capture.backfill_tell()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(`DROP TRIGGER backfill_events ON capture.backfills`);
    await sql(`DROP FUNCTION capture.backfill_tell()`);
    await sql(`DROP FUNCTION capture.backfill_destinations(bigint)`);
    await sql(PREVIOUS_WELL_FORMED);
    await sql(PREVIOUS_PAYLOAD);
    await sql(`DELETE FROM capture.changes WHERE op LIKE 'BACKFILL\\_%'`);
    await sql(`ALTER TABLE capture.changes DROP CONSTRAINT changes_op_check`);
    await sql(`ALTER TABLE capture.changes ADD CONSTRAINT changes_op_check
               CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA_CHANGE', 'READ'))`);
  }
}

const OPS = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'SCHEMA_CHANGE', 'READ', 'BACKFILL_STARTED', 'BACKFILL_COMPLETED', 'BACKFILL_STOPPED'];

/** Replaces `from` in a function's definition, which must be there: a body that moved on is an error, not a silent no-op. */
function replacing(definition: string, from: string | RegExp, to: string): string {
  const now = definition.replace(from, to);
  if (now === definition) throw new Error(`BackfillEvents: ${String(from)} was not found`);
  return now;
}

/** capture.well_formed with a backfill's events: the table's, no key, the backfill as `new`, its id. */
const WELL_FORMED = replacing(
  PREVIOUS_WELL_FORMED,
  "WHEN r.op = 'TRUNCATE'",
  `WHEN r.op IN ('BACKFILL_STARTED', 'BACKFILL_COMPLETED', 'BACKFILL_STOPPED')
                THEN r.row_pk IS NULL AND r.new IS NOT NULL AND r.old IS NULL AND r.backfill_id IS NOT NULL
                WHEN r.op = 'TRUNCATE'`,
);

/** `<table>.backfill_started`, `.backfill_completed`, `.backfill_stopped` (SQL readers: the notifications view). */
const PAYLOAD = replacing(
  PREVIOUS_PAYLOAD,
  "WHEN 'READ' THEN '.read' ELSE",
  `WHEN 'READ' THEN '.read' WHEN 'BACKFILL_STARTED' THEN '.backfill_started'
                      WHEN 'BACKFILL_COMPLETED' THEN '.backfill_completed' WHEN 'BACKFILL_STOPPED' THEN '.backfill_stopped' ELSE`,
);

/**
 * The sinks (ids, as text) a backfill's reads and events are for; NULL: not aimed (and, STRICT, for
 * every row that is no backfill's, without a look).
 */
const DESTINATIONS = `
  CREATE FUNCTION capture.backfill_destinations(backfill bigint) RETURNS text[]
  LANGUAGE sql STABLE STRICT AS $fn$
    SELECT b.destinations::text[] FROM capture.backfills b WHERE b.id = backfill
  $fn$`;

/**
 * The trigger: a backfill added tells of its start (and of its end at once when the table was
 * empty); a state moving to completed, cancelled or failed tells of its end. Pauses and resumes are
 * not events. The table is named as capture names it now, or as the catalog does when it is no
 * longer captured, or as the backfill recorded it when it is gone.
 */
const TELL = `
  CREATE FUNCTION capture.backfill_tell() RETURNS trigger
  LANGUAGE plpgsql AS $fn$
  DECLARE
    schema_name text;
    table_name text;
    ops text[] := '{}';
    op text;
  BEGIN
    IF TG_OP = 'INSERT' THEN
      ops := ops || 'BACKFILL_STARTED'::text;
    ELSIF NEW.state IS NOT DISTINCT FROM OLD.state THEN
      RETURN NULL;
    END IF;
    IF NEW.state = 'completed' THEN
      ops := ops || 'BACKFILL_COMPLETED'::text;
    ELSIF NEW.state IN ('cancelled', 'failed') THEN
      ops := ops || 'BACKFILL_STOPPED'::text;
    END IF;
    IF cardinality(ops) = 0 THEN
      RETURN NULL;
    END IF;
    SELECT c.shape->>'schema', c.shape->>'table' INTO schema_name, table_name FROM capture.captured c WHERE c.relid = NEW.relid;
    IF NOT FOUND THEN
      SELECT n.nspname, k.relname INTO schema_name, table_name
      FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace WHERE k.oid = NEW.relid;
    END IF;
    IF schema_name IS NULL THEN
      schema_name := CASE WHEN strpos(NEW.table_name, '.') > 0 THEN split_part(NEW.table_name, '.', 1) ELSE 'public' END;
      table_name := CASE WHEN strpos(NEW.table_name, '.') > 0 THEN substr(NEW.table_name, strpos(NEW.table_name, '.') + 1) ELSE NEW.table_name END;
    END IF;
    FOREACH op IN ARRAY ops LOOP
      INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor, backfill_id)
      VALUES (schema_name, table_name, op, NULL,
              jsonb_build_object('id', NEW.id::text, 'state', CASE WHEN op = 'BACKFILL_STARTED' THEN 'running' ELSE NEW.state END,
                                 'where', NEW."where", 'destinations', to_jsonb(NEW.destinations),
                                 'rows', CASE WHEN op = 'BACKFILL_STARTED' THEN 0 ELSE NEW.rows_done END,
                                 'estimate', NEW.estimate, 'error', NEW.error),
              CASE WHEN op = 'BACKFILL_STOPPED' THEN capture.actor() ELSE NEW.actor END, NEW.id);
    END LOOP;
    PERFORM capture.wake_drainer();
    RETURN NULL;
  END
  $fn$`;
