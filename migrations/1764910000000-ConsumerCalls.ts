import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Pull consumers in one call each (issue 20, performance): a receive was 7–13 round trips (find the
 * group, begin, expire, lock the scan, count the buffer, read the log, add, move the scan, lease,
 * read the leased notifications, commit) and a settle two to four; on a shared core each round
 * trip is a wake-up of the app and of a backend. Now a receive is `consumer_receive` and a settle
 * `consumer_settle`, one statement each, with the same rules as the statements they replace
 * (ConsumerGroups1764870000000 describes the tables):
 *
 * - consumer_receive: the group by name (paused: nothing); expired leases back to pending or dead
 *   (max_deliver); when the log has something for the group and its buffer room for 100, one
 *   receive at a time takes new notifications from the log into the group (the group's row, FOR NO
 *   KEY UPDATE SKIP LOCKED: the others lease what is there; a receive that takes and leases nothing
 *   writes nothing, so its commit waits for no WAL flush); then the lease of
 *   up to `max` available messages, lowest ids first, within max_ack_pending, FOR UPDATE SKIP
 *   LOCKED, a message of a key only when no earlier message of its key is pending or leased; each
 *   leased message with its journal row, as the log's readers select it.
 * - consumer_settle: ack (deleted), nack (pending after its delay or the group's backoff, dead
 *   after max_deliver), extend, term (dead): the lease ids that were current.
 *
 * The filter (the subscribe language, client/src/filter.ts) and the ordering key (orderingKey in
 * consumer-group.ts until now) are SQL here; the key's text changes (jsonb's, not
 * JSON.stringify's), so the messages a group holds are keyed again on the way up and down. A
 * message keeps its journal row's id and its batch's time (change_id, logged_at): the lease reads
 * the row by its key instead of through its batch's array of ids.
 * A group that is not found raises P0002 (no_data_found).
 */
export class ConsumerCalls1764910000000 implements MigrationInterface {
  name = 'ConsumerCalls1764910000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Where a message's journal row is, and when its batch was appended (the notification's
    // createdAt): a lease reads the row by its key, not through its batch's array of ids.
    await queryRunner.query(`ALTER TABLE consumer_messages ADD COLUMN change_id bigint, ADD COLUMN logged_at timestamptz`);
    await queryRunner.query(FUNCTIONS);
    await queryRunner.query(`
      UPDATE consumer_messages m
      SET (ordering_key, change_id, logged_at) = (
        SELECT CASE WHEN g.order_by = 'key' THEN coalesce(consumer_ordering_key(e.qualified, e.pk, e.row_data, g.key_columns), m.ordering_key) END,
               e.change_id, e.logged_at
        FROM consumer_groups g LEFT JOIN consumer_log_entry(m.notification_id) e ON true
        WHERE g.id = m.group_id)
      WHERE m.state <> 'dead'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // The keys as orderingKey wrote them: JSON.stringify's text (no spaces; keys in jsonb's order, as JSON.parse kept them).
    await queryRunner.query(`
      CREATE FUNCTION pg_temp.compact_json(v jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
        SELECT CASE jsonb_typeof(v)
          WHEN 'object' THEN '{' || coalesce((SELECT string_agg(to_json(k)::text || ':' || pg_temp.compact_json(e), ',' ORDER BY i)
                                              FROM jsonb_each(v) WITH ORDINALITY x(k, e, i)), '') || '}'
          WHEN 'array' THEN '[' || coalesce((SELECT string_agg(pg_temp.compact_json(e), ',' ORDER BY i)
                                             FROM jsonb_array_elements(v) WITH ORDINALITY x(e, i)), '') || ']'
          ELSE v::text END
      $fn$`);
    await queryRunner.query(`
      UPDATE consumer_messages m
      SET ordering_key = coalesce(pg_temp.compact_json(m.ordering_key::jsonb), m.ordering_key)
      FROM consumer_groups g
      WHERE g.id = m.group_id AND g.order_by = 'key' AND m.state <> 'dead'`);
    await queryRunner.query(`DROP FUNCTION pg_temp.compact_json(jsonb)`);
    await queryRunner.query(`
      DROP FUNCTION consumer_settle(text, text, uuid[], int, text);
      DROP FUNCTION consumer_receive(text, int, int, int);
      DROP FUNCTION consumer_log_entry(bigint);
      DROP FUNCTION consumer_ordering_key(text, jsonb, jsonb, text[])`);
    await queryRunner.query(`ALTER TABLE consumer_messages DROP COLUMN change_id, DROP COLUMN logged_at`);
  }
}

/**
 * Whether a notification passes the group's filter, from the parts consumer_receive takes from it
 * once (f_exact, f_prefixes, f_tables, f_where): client/src/filter.ts's rules. A backfill's READ
 * only when its event is named; events as names or '.*' prefixes; tables; where on new (old for a
 * deletion), compared as text, passed by a table event (no key).
 */
function passes(event: string, qualified: string, op: string, pk: string, row: string): string {
  return `(CASE WHEN ${op} = 'READ' THEN ${event} = ANY (f_exact)
                WHEN f_events IS NULL THEN true
                ELSE ${event} = ANY (f_exact) OR EXISTS (SELECT 1 FROM unnest(f_prefixes) p WHERE starts_with(${event}, p)) END)
       AND (f_tables IS NULL OR ${qualified} = ANY (f_tables))
       AND (f_where IS NULL OR ${pk} IS NULL OR ${pk} = 'null'
            OR (${row} IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM jsonb_each(f_where) w(k, v) WHERE NOT notification_matches(${row} -> w.k, w.v))))`;
}

export const FUNCTIONS = `
  -- A notification's key for per-key order: its table and primary key, or the values of key_columns
  -- in its row (new, else old; a column it lacks counts as null), which may span tables. A table
  -- event (TRUNCATE, schema change: no key) is keyed by its table alone.
  CREATE FUNCTION consumer_ordering_key(qualified text, pk jsonb, row_data jsonb, key_columns text[]) RETURNS text
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN pk IS NULL OR pk = 'null' THEN jsonb_build_array(qualified)::text
                WHEN key_columns IS NULL THEN jsonb_build_array(qualified, pk)::text
                ELSE (SELECT jsonb_agg(coalesce(row_data -> k, 'null') ORDER BY i) FROM unnest(key_columns) WITH ORDINALITY u(k, i))::text END
  $fn$;

  -- One notification's table, key, row, journal row and batch time, from its batch or the legacy
  -- rows (none when the log no longer has it): for a group's messages taken before this migration.
  CREATE FUNCTION consumer_log_entry(notification bigint) RETURNS TABLE (qualified text, pk jsonb, row_data jsonb, change_id bigint, logged_at timestamptz)
  LANGUAGE sql STABLE AS $fn$
    SELECT capture.qualified_name(c.schema_name, c.table_name), c.row_pk, coalesce(nullif(c.new, 'null'), nullif(c.old, 'null')), c.id, b.created_at
    FROM (SELECT * FROM notification_batches b WHERE b.last_id >= notification ORDER BY b.last_id LIMIT 1) b
    JOIN capture.changes c ON c.id = b.change_ids[notification - b.first_id + 1]
    WHERE b.first_id <= notification
    UNION ALL
    SELECT n.table_name, n.payload -> 'pk', coalesce(nullif(n.payload -> 'new', 'null'), nullif(n.payload -> 'old', 'null')), NULL, NULL
    FROM notifications_legacy n WHERE n.id = notification
  $fn$;

  CREATE FUNCTION consumer_receive(group_name text, max_messages int, scan_min int, scan_ids int)
  RETURNS TABLE (id text, lease_id text, deliveries int, leased_until timestamptz, created_at timestamptz, change_id text, tx text,
                 schema_name text, table_name text, op text, row_pk jsonb, old jsonb, new jsonb, changed_columns text[], actor text,
                 changed_at timestamptz, backfill_id text)
  LANGUAGE plpgsql AS $fn$
  #variable_conflict use_column
  DECLARE
    g consumer_groups;
    through bigint;
    purged bigint;
    room int;
    log_end bigint;
    legacy_end bigint;
    hi bigint;
    step int;
    looked int := 0;
    buffered int;
    locked boolean := false;
    f_events jsonb;
    f_exact text[];
    f_prefixes text[];
    f_tables text[];
    f_where jsonb;
    taken int;
    last_taken bigint;
  BEGIN
    SELECT * INTO g FROM consumer_groups WHERE name = group_name;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('consumer group %s not found', group_name);
    END IF;
    IF g.paused THEN
      RETURN;
    END IF;

    -- Leases that expired: pending again (at once), or dead letters after max_deliver deliveries.
    UPDATE consumer_messages m SET
      state = CASE WHEN g.max_deliver IS NOT NULL AND m.deliveries >= g.max_deliver THEN 'dead' ELSE 'pending' END,
      dead_at = CASE WHEN g.max_deliver IS NOT NULL AND m.deliveries >= g.max_deliver THEN now() END,
      lease_id = NULL, leased_until = NULL, available_at = clock_timestamp(), last_error = 'its lease expired'
    WHERE m.group_id = g.id AND m.state = 'leased' AND m.leased_until < clock_timestamp();

    -- One receive at a time takes new notifications from the log (a seek's FOR UPDATE excludes it);
    -- the others lease what is there. NO KEY: the messages' foreign key checks do not wait on it.
    -- Only when there is something to take and room for it: the lock is a write, and a receive
    -- that writes nothing commits without waiting for the WAL's flush. The room is about what this
    -- receive asks for (at least scan_min: the receives beside it lease from what it takes), within
    -- the buffer (four times max_ack_pending, at least 1,000: a row blocked behind its earlier change
    -- does not stop other rows); a buffer that holds messages is filled scan_min at a time, not one
    -- by one as acks free it. At most scan_ids ids are looked at.
    purged := coalesce((SELECT r.purged_through FROM notification_retention r WHERE r.id = 1), 0);
    log_end := greatest((SELECT max(b.last_id) FROM notification_batches b), (SELECT max(n.id) FROM notifications_legacy n), 0);
    IF greatest(log_end, purged) > g.scanned_through THEN
      buffered := (SELECT count(*) FROM consumer_messages m WHERE m.group_id = g.id AND m.state <> 'dead');
      room := least(greatest(max_messages, scan_min), greatest(g.max_ack_pending * 4, 1000) - buffered);
      IF room >= scan_min OR (room > 0 AND buffered = 0) OR purged > g.scanned_through THEN
        SELECT cg.scanned_through INTO through FROM consumer_groups cg WHERE cg.id = g.id FOR NO KEY UPDATE SKIP LOCKED;
        locked := FOUND;
      END IF;
    END IF;
    IF locked THEN
      IF purged > through THEN
        UPDATE consumer_groups SET last_error = format('notifications %s–%s were deleted by retention before this group took them', through + 1, purged),
                                   last_error_at = now()
        WHERE consumer_groups.id = g.id;
        through := purged;
      END IF;
      IF room > 0 AND log_end > through THEN
        -- The filter's parts, once: the statements below test them per notification.
        f_events := nullif(g.filter -> 'events', 'null');
        f_exact := ARRAY(SELECT e FROM jsonb_array_elements_text(f_events) e WHERE e NOT LIKE '%.*');
        f_prefixes := ARRAY(SELECT left(e, -1) FROM jsonb_array_elements_text(f_events) e WHERE e LIKE '%.*');
        f_tables := CASE WHEN nullif(g.filter -> 'tables', 'null') IS NOT NULL THEN ARRAY(SELECT jsonb_array_elements_text(g.filter -> 'tables')) END;
        f_where := nullif(nullif(g.filter -> 'where', 'null'), '{}');
        legacy_end := coalesce((SELECT max(n.id) FROM notifications_legacy n), 0);
        IF through < legacy_end THEN
          -- An upgraded log's notifications from before OneWritePerChange (all below every batch's).
          hi := least(legacy_end, through + scan_ids);
          WITH found AS (
            SELECT n.id, CASE WHEN g.order_by = 'key' THEN consumer_ordering_key(n.table_name, n.payload -> 'pk', e.row_data, g.key_columns) END AS key
            FROM notifications_legacy n
            CROSS JOIN LATERAL (SELECT coalesce(nullif(n.payload -> 'new', 'null'), nullif(n.payload -> 'old', 'null')) AS row_data) e
            WHERE n.id > through AND n.id <= hi
              AND ${passes('n.event', 'n.table_name', "n.payload ->> 'op'", "n.payload -> 'pk'", 'e.row_data')}
            ORDER BY n.id LIMIT room),
          added AS (INSERT INTO consumer_messages (group_id, notification_id, ordering_key) SELECT g.id, found.id, found.key FROM found ON CONFLICT DO NOTHING)
          SELECT count(*), max(found.id) INTO taken, last_taken FROM found;
          looked := hi - through;
          through := CASE WHEN taken >= room THEN last_taken ELSE hi END;
          room := room - taken;
        END IF;
        -- The batches, a window of ids at a time, from as many as are wanted (when every one
        -- matches, one window) growing while a filter passes over them: only the slice of each
        -- batch that the window covers is unnested and looked up.
        step := room;
        WHILE room > 0 AND through < log_end AND looked < scan_ids AND through >= legacy_end LOOP
          hi := least(through + step, log_end);
          WITH found AS (
            SELECT b.first_id + w.s + u.ord - 2 AS id, c.id AS change_id, b.created_at AS logged_at,
                   CASE WHEN g.order_by = 'key' THEN consumer_ordering_key(capture.qualified_name(c.schema_name, c.table_name), c.row_pk, e.row_data, g.key_columns) END AS key
            FROM notification_batches b
            CROSS JOIN LATERAL (SELECT greatest(1, through - b.first_id + 2)::int AS s, least(cardinality(b.change_ids), hi - b.first_id + 1)::int AS e) w
            CROSS JOIN LATERAL unnest(b.change_ids[w.s:w.e]) WITH ORDINALITY AS u(change_id, ord)
            CROSS JOIN LATERAL (SELECT * FROM capture.changes c WHERE c.id = u.change_id OFFSET 0) c
            CROSS JOIN LATERAL (SELECT coalesce(nullif(c.new, 'null'), nullif(c.old, 'null')) AS row_data) e
            WHERE b.last_id > through AND b.first_id <= hi
              AND ${passes('capture.event_name(c.schema_name, c.table_name, c.op)', 'capture.qualified_name(c.schema_name, c.table_name)', 'c.op', 'c.row_pk', 'e.row_data')}
            ORDER BY b.last_id, u.ord LIMIT room),
          added AS (INSERT INTO consumer_messages (group_id, notification_id, ordering_key, change_id, logged_at)
                    SELECT g.id, found.id, found.key, found.change_id, found.logged_at FROM found ON CONFLICT DO NOTHING)
          SELECT count(*), max(found.id) INTO taken, last_taken FROM found;
          looked := looked + (hi - through);
          through := CASE WHEN taken >= room THEN last_taken ELSE hi END;
          room := room - taken;
          step := least(step * 2, scan_ids);
        END LOOP;
      END IF;
      UPDATE consumer_groups SET scanned_through = through WHERE consumer_groups.id = g.id AND scanned_through <> through;
    END IF;

    -- The lease, from now (clock_timestamp, not the transaction's start). With per-key order a
    -- message is available only when no earlier message of its key is pending or leased, as
    -- committed or locked: a receive skips what another is leasing (SKIP LOCKED), and the key's
    -- later messages are still behind it. The candidates are computed once (MATERIALIZED), whatever
    -- the join order.
    RETURN QUERY
    WITH space AS (
      SELECT greatest(0, least(max_messages, g.max_ack_pending - (SELECT count(*) FROM consumer_messages m WHERE m.group_id = g.id AND m.state = 'leased')::int)) AS n),
    chosen AS MATERIALIZED (
      SELECT m.notification_id FROM consumer_messages m
      WHERE m.group_id = g.id AND m.state = 'pending' AND m.available_at <= clock_timestamp()
        AND (m.ordering_key IS NULL OR NOT EXISTS (
              SELECT 1 FROM consumer_messages h
              WHERE h.group_id = g.id AND h.ordering_key = m.ordering_key AND h.notification_id < m.notification_id AND h.state <> 'dead'))
      ORDER BY m.notification_id
      LIMIT (SELECT n FROM space)
      FOR UPDATE OF m SKIP LOCKED),
    leased AS (
      UPDATE consumer_messages m SET state = 'leased', lease_id = gen_random_uuid(), deliveries = m.deliveries + 1,
             leased_until = clock_timestamp() + make_interval(secs => g.ack_wait_ms / 1000.0)
      WHERE m.group_id = g.id AND m.notification_id = ANY (ARRAY(SELECT notification_id FROM chosen))
      RETURNING m.notification_id, m.lease_id, m.deliveries, m.leased_until, m.change_id, m.logged_at)
    -- Each with its journal row (none for a legacy notification, or one retention deleted).
    SELECT l.notification_id::text, l.lease_id::text, l.deliveries, l.leased_until, l.logged_at, c.id::text, c.tx::text,
           c.schema_name, c.table_name, c.op, c.row_pk, c.old, c.new, c.changed_columns, c.actor, c.changed_at, c.backfill_id::text
    FROM leased l
    LEFT JOIN capture.changes c ON c.id = l.change_id
    ORDER BY l.notification_id;
  END
  $fn$;

  -- Settles leases of a group: ack, nack (delay_ms, else the group's backoff by delivery count, else
  -- at once; dead after max_deliver), extend (another ack wait from now), term (dead, for reason).
  -- Returns the lease ids that were current: the join on the given ids is checked again against a
  -- row that changed meanwhile, so a lease settled, expired or leased anew in between is not.
  CREATE FUNCTION consumer_settle(group_name text, verb text, lease_ids uuid[], delay_ms int, reason text) RETURNS TABLE (lease_id text)
  LANGUAGE plpgsql AS $fn$
  #variable_conflict use_column
  DECLARE
    g consumer_groups;
  BEGIN
    SELECT * INTO g FROM consumer_groups WHERE name = group_name;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('consumer group %s not found', group_name);
    END IF;
    IF verb = 'ack' THEN
      RETURN QUERY DELETE FROM consumer_messages m USING unnest(lease_ids) x(id)
        WHERE m.group_id = g.id AND m.state = 'leased' AND m.lease_id = x.id RETURNING x.id::text;
    ELSIF verb = 'nack' THEN
      RETURN QUERY UPDATE consumer_messages m SET
          state = CASE WHEN g.max_deliver IS NOT NULL AND m.deliveries >= g.max_deliver THEN 'dead' ELSE 'pending' END,
          dead_at = CASE WHEN g.max_deliver IS NOT NULL AND m.deliveries >= g.max_deliver THEN now() END,
          available_at = clock_timestamp() + make_interval(secs => coalesce(delay_ms, g.backoff_ms[least(m.deliveries, cardinality(g.backoff_ms))], 0) / 1000.0),
          lease_id = NULL, leased_until = NULL, last_error = 'nacked'
        FROM unnest(lease_ids) x(id)
        WHERE m.group_id = g.id AND m.state = 'leased' AND m.lease_id = x.id RETURNING x.id::text;
    ELSIF verb = 'extend' THEN
      RETURN QUERY UPDATE consumer_messages m SET leased_until = clock_timestamp() + make_interval(secs => g.ack_wait_ms / 1000.0)
        FROM unnest(lease_ids) x(id)
        WHERE m.group_id = g.id AND m.state = 'leased' AND m.lease_id = x.id RETURNING x.id::text;
    ELSIF verb = 'term' THEN
      RETURN QUERY UPDATE consumer_messages m SET state = 'dead', dead_at = now(), lease_id = NULL, leased_until = NULL, last_error = reason
        FROM unnest(lease_ids) x(id)
        WHERE m.group_id = g.id AND m.state = 'leased' AND m.lease_id = x.id RETURNING x.id::text;
    ELSE
      RAISE EXCEPTION 'consumer_settle: unknown verb %', verb;
    END IF;
  END
  $fn$;
`;
