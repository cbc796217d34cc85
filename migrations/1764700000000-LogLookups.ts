import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lookups in the log that do not scan it (issue 22): "what happened to invoice X", "what did alice
 * change", "every invoices.deleted", "the items of invoice Y" answer from an index at any log size.
 *
 * `notification_index(key, id)`: per notification, one entry for the row it changed (its table and
 * key), one for its event, one for its actor, and one for each column of its table a user chose to
 * look rows up by. `key` is a 64-bit hash of what is looked up (notification_key): small,
 * fixed-size entries; every read checks the notification itself, so a collision costs a row read,
 * never a wrong answer (and the index is not unique: a collision within a notification is a
 * duplicate entry that reads drop). Entries per batch for events and actors were smaller, but a
 * batch a backlog drain makes holds ~1,000 changes of every kind: a rare event in it cost the
 * whole batch.
 *
 * The app writes the index (LogIndexer), not the drainer: written in the drainer's transaction (a
 * trigger on each batch) it cut the drain rate to a quarter (from ~60k to ~15k notifications/s
 * here), and with it how fast a backlog or a bulk write reaches the clients.
 *
 * `notification_lookups`: what is indexed, and how far. The row with no table and column is the
 * built-in keys (row, event, actor); each other row is a table's column. Every notification with an
 * id in (covered_after, indexed_through] is indexed; both are null until the indexer starts the
 * lookup at the log's end, then indexed_through follows the log forward and covered_after goes
 * back to the log's start, in steps. Reads take the index in between and scan outside it (the
 * newest few batches, and what a new lookup has not reached yet).
 */
export class LogLookups1764700000000 implements MigrationInterface {
  name = 'LogLookups1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(`CREATE TABLE notification_index (key bigint NOT NULL, id bigint NOT NULL)`);
    await sql(`CREATE INDEX notification_index_key_idx ON notification_index (key, id)`);
    // Retention deletes by id: the entries of the notifications it deleted.
    await sql(`CREATE INDEX notification_index_id_idx ON notification_index (id)`);
    await sql(`
      CREATE TABLE notification_lookups (
        table_name text,
        column_name text,
        covered_after bigint,
        indexed_through bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT notification_lookups_unique UNIQUE NULLS NOT DISTINCT (table_name, column_name),
        CONSTRAINT notification_lookups_column CHECK ((table_name IS NULL) = (column_name IS NULL))
      )`);
    await sql(`INSERT INTO notification_lookups DEFAULT VALUES`);
    await sql(FUNCTIONS);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(`DROP FUNCTION notification_keys(bigint, bigint, text, text)`);
    await sql(`DROP FUNCTION notification_matches(jsonb, jsonb)`);
    await sql(`DROP FUNCTION notification_value(jsonb)`);
    await sql(`DROP FUNCTION notification_key(text[])`);
    await sql(`DROP TABLE notification_lookups`);
    await sql(`DROP TABLE notification_index`);
  }
}

const FUNCTIONS = `
  -- What is looked up, e.g. ('row', 'invoices', '<id>'), as the index's key.
  CREATE FUNCTION notification_key(VARIADIC parts text[]) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT hashtextextended(to_jsonb(parts)::text, 0)
  $fn$;

  -- A column's value as a filter compares it (the client library's rule: as text, so 3 and "3" are
  -- one value; numbers in plain decimals without trailing zeros); null for null, objects and arrays.
  CREATE FUNCTION notification_value(v jsonb) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}' WHEN 'number' THEN trim_scale(v::numeric)::text
                                WHEN 'boolean' THEN v::text END
  $fn$;

  -- Whether a row's value passes a \`where\` entry: null matches only null or a missing column.
  CREATE FUNCTION notification_matches(actual jsonb, wanted jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT CASE WHEN wanted IS NULL OR wanted = 'null' THEN actual IS NULL OR actual = 'null'
                ELSE coalesce(notification_value(actual) = notification_value(wanted), false) END
  $fn$;

  -- The index's entries for the notifications with ids in (lo, hi]: for the built-in lookup (tbl
  -- and col null), each one's row (a TRUNCATE or schema change: all the table's rows), event and
  -- actor; for a column lookup, the column's value in each row of that table.
  CREATE FUNCTION notification_keys(lo bigint, hi bigint, tbl text, col text) RETURNS TABLE (key bigint, id bigint)
  LANGUAGE sql STABLE AS $fn$
    WITH notified AS MATERIALIZED (
      SELECT b.first_id + w.s + u.ord - 2 AS id,
             capture.qualified_name(c.schema_name, c.table_name) AS qn, c.schema_name, c.table_name, c.op, c.row_pk, c.actor,
             CASE WHEN notification_keys.col IS NOT NULL THEN coalesce(c.new, c.old) -> notification_keys.col END AS value
      FROM notification_batches b
      CROSS JOIN LATERAL (SELECT greatest(1, lo - b.first_id + 2)::int AS s, least(cardinality(b.change_ids), hi - b.first_id + 1)::int AS e) w
      CROSS JOIN LATERAL unnest(b.change_ids[w.s:w.e]) WITH ORDINALITY AS u(change_id, ord)
      CROSS JOIN LATERAL (SELECT * FROM capture.changes c WHERE c.id = u.change_id OFFSET 0) c
      WHERE b.last_id > lo
        AND b.last_id <= coalesce((SELECT x.last_id FROM notification_batches x WHERE x.last_id >= hi ORDER BY x.last_id LIMIT 1), hi))
    SELECT CASE WHEN n.row_pk IS NULL THEN notification_key('rows', n.qn)
                ELSE notification_key('row', n.qn, capture.entity_id(n.row_pk)) END, n.id
    FROM notified n WHERE notification_keys.tbl IS NULL
    UNION ALL
    SELECT notification_key('event', capture.event_name(n.schema_name, n.table_name, n.op)), n.id
    FROM notified n WHERE notification_keys.tbl IS NULL
    UNION ALL
    SELECT notification_key('actor', n.actor), n.id FROM notified n WHERE notification_keys.tbl IS NULL
    UNION ALL
    SELECT notification_key('column', n.qn, notification_keys.col, notification_value(n.value)), n.id
    FROM notified n WHERE n.qn = notification_keys.tbl AND n.row_pk IS NOT NULL
  $fn$;`;
