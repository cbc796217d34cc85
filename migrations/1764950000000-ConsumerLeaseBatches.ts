import { MigrationInterface, QueryRunner } from 'typeorm';
import { RECEIVE as PREVIOUS_RECEIVE } from './1764930000000-ConsumerBackfillRules.js';

/**
 * Pull consumers at a row per receive, not three writes per message (issue 20, performance). A
 * message went into consumer_messages as pending when a receive took it from the log (an insert
 * into five indexes), was leased by an update (a new version in five indexes) and deleted by its
 * ack; a receive of 100 spent most of its time there. Now what a receive takes from the log and
 * leases at once (every message that is not behind an earlier change of its key) is one row of
 * consumer_leases, a lease batch (one for each 100 messages): the messages' notification ids,
 * journal row ids, log times and keys as arrays, and one lease end. An ack adds its messages to
 * their batch's settled ids, leaving the arrays as written (the batch goes with its last). Anything else that happens to a message of a batch makes it a message of
 * consumer_messages again, with what it would have had there: a nack (pending after its delay, or
 * dead after max_deliver), a term (dead), an extension (leased, its lease id kept), its batch's
 * lease expiring (pending, or dead). A message behind an earlier change of its key, taken from the
 * log, waits in consumer_messages as pending, as before.
 *
 * A batch message's lease id is its batch's id (random, 60 bits) and its notification id, as a
 * version 8 UUID (consumer_lease_id): a settle finds its batch by its key, with no index over the arrays. A
 * lease id from consumer_messages is random (gen_random_uuid), as before.
 *
 * A receive leases the group's pending messages first, side by side with other receives (SKIP
 * LOCKED, no group lock), as before. For the room left it takes the group's row lock (FOR NO KEY
 * UPDATE, before any message, as a seek does; SKIP LOCKED when it already holds messages): one
 * receive of the group at a time, on any instance, turns expired leases back to pending and takes
 * new notifications from the log, only when there is something to do (a receive that finds nothing
 * writes nothing). A receive asking for fewer than scan_min takes scan_min, the rest pending for the
 * receives beside it to lease without the lock.
 *
 * consumer_leased (a view): every leased message, of either table, for what reads leases.
 */
export class ConsumerLeaseBatches1764950000000 implements MigrationInterface {
  name = 'ConsumerLeaseBatches1764950000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE consumer_leases (
        id bigint PRIMARY KEY,
        group_id uuid NOT NULL REFERENCES consumer_groups ON DELETE CASCADE,
        notification_ids bigint[] NOT NULL CHECK (cardinality(notification_ids) > 0),
        change_ids bigint[] NOT NULL,
        logged_at timestamptz[] NOT NULL,
        ordering_keys text[],
        leased_until timestamptz NOT NULL,
        settled bigint[] NOT NULL DEFAULT '{}',
        CHECK (cardinality(notification_ids) <= ${BATCH_MAX} AND cardinality(settled) < cardinality(notification_ids)),
        CHECK (cardinality(change_ids) = cardinality(notification_ids) AND cardinality(logged_at) = cardinality(notification_ids)
               AND (ordering_keys IS NULL OR cardinality(ordering_keys) = cardinality(notification_ids)))
      )`);
    await queryRunner.query(`CREATE INDEX consumer_leases_group ON consumer_leases (group_id, leased_until)`);
    await queryRunner.query(`DROP FUNCTION consumer_receive(text, int, int, int)`);
    await queryRunner.query(LEASE_IDS);
    await queryRunner.query(BATCH_MESSAGES);
    await queryRunner.query(LEASED_VIEW);
    await queryRunner.query(RECEIVE);
    await queryRunner.query(`ALTER FUNCTION consumer_settle(text, text, uuid[], int, text) RENAME TO consumer_settle_messages`);
    await queryRunner.query(SETTLE);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Each batch message as the leased message of consumer_messages it stands for, its lease id kept.
    await queryRunner.query(`
      INSERT INTO consumer_messages (group_id, notification_id, ordering_key, change_id, logged_at, state, deliveries, lease_id, leased_until)
      SELECT l.group_id, u.notification_id, u.ordering_key, u.change_id, u.logged_at, 'leased', 1, consumer_lease_id(l.id, u.notification_id), l.leased_until
      FROM consumer_leases l CROSS JOIN LATERAL consumer_lease_messages(l) u
      ON CONFLICT DO NOTHING`);
    await queryRunner.query(`DROP VIEW consumer_leased`);
    await queryRunner.query(`DROP FUNCTION consumer_receive(text, int, int, int)`);
    await queryRunner.query(`DROP FUNCTION consumer_lease_messages(consumer_leases)`);
    await queryRunner.query(`DROP TABLE consumer_leases`);
    await queryRunner.query(`DROP FUNCTION consumer_lease_id(bigint, bigint), consumer_lease_batch(uuid), consumer_lease_notification(uuid), consumer_lease_new_batch()`);
    await queryRunner.query(PREVIOUS_RECEIVE.replace('CREATE OR REPLACE FUNCTION', 'CREATE FUNCTION'));
    await queryRunner.query(`DROP FUNCTION consumer_settle(text, text, uuid[], int, text)`);
    await queryRunner.query(`ALTER FUNCTION consumer_settle_messages(text, text, uuid[], int, text) RENAME TO consumer_settle`);
  }
}

const LEASE_IDS = `
  -- A batch message's lease id: a version 8 (custom) UUID of its batch's id and its notification id,
  -- 60 bits each: 12 hex digits of the batch, 8, 3 more, 8 (the variant), 15 of the notification.
  -- One expression each, so that PostgreSQL inlines them.
  CREATE FUNCTION consumer_lease_id(batch bigint, notification bigint) RETURNS uuid
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT (left(lpad(to_hex(batch), 15, '0'), 12) || '8' || right(lpad(to_hex(batch), 15, '0'), 3) || '8' || lpad(to_hex(notification), 15, '0'))::uuid
  $fn$;
  -- The batch of a batch message's lease id; null for another lease id (random, version 4).
  CREATE FUNCTION consumer_lease_batch(lease uuid) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT CASE WHEN substr(lease::text, 15, 1) = '8' AND substr(lease::text, 20, 1) = '8'
                THEN ('x0' || left(lease::text, 8) || substr(lease::text, 10, 4) || substr(lease::text, 16, 3))::bit(64)::bigint END
  $fn$;
  CREATE FUNCTION consumer_lease_notification(lease uuid) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT ('x0' || substr(lease::text, 21, 3) || right(lease::text, 12))::bit(64)::bigint
  $fn$;
  -- A new batch's id: 60 random bits.
  CREATE FUNCTION consumer_lease_new_batch() RETURNS bigint
  LANGUAGE sql VOLATILE AS $fn$
    SELECT ('x0' || left(h, 12) || substr(h, 14, 3))::bit(64)::bigint FROM replace(gen_random_uuid()::text, '-', '') h
  $fn$;
`;

const LEASED_VIEW = `
  CREATE VIEW consumer_leased AS
    SELECT m.group_id, m.notification_id, m.ordering_key, m.lease_id, m.deliveries, m.leased_until
    FROM consumer_messages m WHERE m.state = 'leased'
    UNION ALL
    SELECT l.group_id, u.notification_id, u.ordering_key, consumer_lease_id(l.id, u.notification_id), 1, l.leased_until
    FROM consumer_leases l CROSS JOIN LATERAL consumer_lease_messages(l) u
`;

/** At most this many messages in one batch row: an ack rewrites its batch's list of settled ids. */
const BATCH_MAX = 100;

const BATCH_MESSAGES = `
  -- A batch's messages not yet settled (acked, or made messages of consumer_messages): what it still leases.
  CREATE FUNCTION consumer_lease_messages(l consumer_leases)
  RETURNS TABLE (notification_id bigint, ordering_key text, change_id bigint, logged_at timestamptz)
  LANGUAGE sql IMMUTABLE AS $fn$
    SELECT u.notification_id, u.ordering_key, u.change_id, u.logged_at
    FROM unnest(l.notification_ids, l.ordering_keys, l.change_ids, l.logged_at) u(notification_id, ordering_key, change_id, logged_at)
    WHERE NOT (u.notification_id = ANY (l.settled))
  $fn$;
`;

/**
 * Whether a notification passes the group's filter (client/src/filter.ts's rules, as
 * ConsumerBackfillRules left them): a backfill's rows by name alone and never one aimed at sinks;
 * events as names or '.*' prefixes; tables; where on new (old for a deletion), compared as text,
 * passed by a table event (no key).
 */
function passes(event: string, qualified: string, pk: string, row: string, backfill: string): string {
  return `(CASE WHEN ${backfill} IS NOT NULL AND capture.backfill_destinations(${backfill}) IS NOT NULL THEN false
                WHEN ${backfill} IS NOT NULL THEN ${event} = ANY (f_exact)
                WHEN f_events IS NULL THEN true
                ELSE ${event} = ANY (f_exact) OR EXISTS (SELECT 1 FROM unnest(f_prefixes) p WHERE starts_with(${event}, p)) END)
       AND (f_tables IS NULL OR ${qualified} = ANY (f_tables))
       AND (f_where IS NULL OR ${pk} IS NULL OR ${pk} = 'null'
            OR (${row} IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM jsonb_each(f_where) w(k, v) WHERE NOT notification_matches(${row} -> w.k, w.v))))`;
}

/**
 * One window of the scan, at most `lim` notifications (the room left for this receive's batch, and
 * the spare within the buffer's room): `found` (a CTE of id, change_id, logged_at, key, change: the
 * journal row or null) marked blocked when its key is held (a message of consumer_messages not dead,
 * a batch message, or an earlier one of this window or of this receive's batch so far). The first
 * `room` not blocked join this receive's batch (its arrays); the rest wait in consumer_messages as
 * pending, the blocked until their key is free, the spare for the next receives to lease side by side.
 */
function scanWindow(found: string): string {
  return `
          lim := room + least(spare, buffer_room);
          WITH found AS (${found}),
          marked AS (
            SELECT f.*, (f.key IS NOT NULL AND (
                     row_number() OVER (PARTITION BY f.key ORDER BY f.id) > 1
                     OR f.key = ANY (b_keys)
                     OR f.key IN (SELECT unnest(held_keys))
                     OR EXISTS (SELECT 1 FROM consumer_messages h WHERE h.group_id = g.id AND h.ordering_key = f.key AND h.state <> 'dead'))) AS blocked
            FROM found f),
          placed AS (
            SELECT m.*, NOT m.blocked AND count(*) FILTER (WHERE NOT m.blocked) OVER (ORDER BY m.id) <= room AS batched
            FROM marked m),
          parked AS (
            INSERT INTO consumer_messages (group_id, notification_id, ordering_key, change_id, logged_at)
            SELECT g.id, m.id, m.key, m.change_id, m.logged_at FROM placed m WHERE NOT m.batched ON CONFLICT DO NOTHING)
          SELECT count(*), max(m.id),
                 coalesce(array_agg(m.id ORDER BY m.id) FILTER (WHERE m.batched), '{}'),
                 coalesce(array_agg(m.change_id ORDER BY m.id) FILTER (WHERE m.batched), '{}'),
                 coalesce(array_agg(m.logged_at ORDER BY m.id) FILTER (WHERE m.batched), '{}'),
                 coalesce(array_agg(m.key ORDER BY m.id) FILTER (WHERE m.batched), '{}'),
                 coalesce(array_agg(m.change ORDER BY m.id) FILTER (WHERE m.batched), '{}'),
                 count(*) FILTER (WHERE NOT m.blocked AND NOT m.batched)
          INTO taken, last_taken, w_ids, w_changes, w_logged, w_keys, w_rows, w_spare
          FROM placed m;
          b_ids := b_ids || w_ids;
          b_changes := b_changes || w_changes;
          b_logged := b_logged || w_logged;
          b_keys := b_keys || w_keys;
          b_rows := b_rows || w_rows;
          room := room - cardinality(w_ids);
          spare := spare - w_spare;
          buffer_room := buffer_room - (taken - cardinality(w_ids));
          -- Every matching id up to \`through\` is taken: the last taken when the limit stopped the window.
          through := CASE WHEN taken >= lim THEN last_taken ELSE hi END;`;
}

/** The notification columns consumer_receive returns, from a journal row `c` (null for a legacy notification). */
const JOURNAL_COLUMNS = `c.id::text, c.tx::text, c.schema_name, c.table_name, c.op, c.row_pk, c.old, c.new, c.changed_columns, c.actor, c.changed_at, c.backfill_id::text`;

/** What max_ack_pending leaves: less the group's leased messages and its batches' messages. */
const IN_FLIGHT_ROOM = `g.max_ack_pending
                  - (SELECT count(*) FROM consumer_messages m WHERE m.group_id = g.id AND m.state = 'leased')::int
                  - coalesce((SELECT sum(cardinality(l.notification_ids) - cardinality(l.settled)) FROM consumer_leases l WHERE l.group_id = g.id), 0)::int`;

/**
 * Leases up to `room` of the group's pending messages, lowest ids first, and returns them (RETURN
 * QUERY) with their journal rows (none for a legacy notification, or one retention deleted); counts
 * them in from_pending and leased. With per-key order, one only when no earlier message of its key is
 * pending, leased or in a batch, in one snapshot: a batch committed meanwhile comes with the
 * messages it left pending behind its keys, so both are seen or neither.
 */
const LEASE_PENDING = `
      RETURN QUERY
      WITH chosen AS MATERIALIZED (
        SELECT m.notification_id FROM consumer_messages m
        WHERE m.group_id = g.id AND m.state = 'pending' AND m.available_at <= clock_timestamp()
          AND (m.ordering_key IS NULL OR (
                NOT EXISTS (SELECT 1 FROM consumer_messages h
                            WHERE h.group_id = g.id AND h.ordering_key = m.ordering_key AND h.notification_id < m.notification_id AND h.state <> 'dead')
                AND m.ordering_key NOT IN (SELECT u.ordering_key FROM consumer_leases l CROSS JOIN LATERAL consumer_lease_messages(l) u
                                           WHERE l.group_id = g.id AND u.ordering_key IS NOT NULL)))
        ORDER BY m.notification_id
        LIMIT room
        FOR UPDATE OF m SKIP LOCKED),
      leased AS (
        UPDATE consumer_messages m SET state = 'leased', lease_id = gen_random_uuid(), deliveries = m.deliveries + 1,
               leased_until = clock_timestamp() + make_interval(secs => g.ack_wait_ms / 1000.0)
        WHERE m.group_id = g.id AND m.notification_id = ANY (ARRAY(SELECT notification_id FROM chosen))
        RETURNING m.notification_id, m.lease_id, m.deliveries, m.leased_until, m.change_id, m.logged_at)
      SELECT l.notification_id::text, l.lease_id::text, l.deliveries, l.leased_until, l.logged_at, ${JOURNAL_COLUMNS}
      FROM leased l
      LEFT JOIN capture.changes c ON c.id = l.change_id
      ORDER BY l.notification_id;
      GET DIAGNOSTICS from_pending = ROW_COUNT;
      leased := leased + from_pending;`;

const RECEIVE = `
  CREATE FUNCTION consumer_receive(group_name text, max_messages int, scan_min int, scan_ids int)
  RETURNS TABLE (id text, lease_id text, deliveries int, leased_until timestamptz, created_at timestamptz, change_id text, tx text,
                 schema_name text, table_name text, op text, row_pk jsonb, old jsonb, new jsonb, changed_columns text[], actor text,
                 changed_at timestamptz, backfill_id text)
  LANGUAGE plpgsql AS $fn$
  #variable_conflict use_column
  DECLARE
    g consumer_groups;
    purged bigint;
    log_end bigint;
    legacy_end bigint;
    through bigint;
    room int;
    lim int;
    buffer_room int;
    hi bigint;
    step int;
    looked int := 0;
    taken int;
    last_taken bigint;
    from_pending int := 0;
    leased int := 0;
    expired int;
    has_pending boolean;
    n int;
    has_expired boolean;
    spare int;
    held_keys text[];
    f_events jsonb;
    f_exact text[];
    f_prefixes text[];
    f_tables text[];
    f_where jsonb;
    w_ids bigint[];
    w_changes bigint[];
    w_logged timestamptz[];
    w_keys text[];
    w_rows capture.changes[];
    w_spare int;
    b_ids bigint[] := '{}';
    b_changes bigint[] := '{}';
    b_logged timestamptz[] := '{}';
    b_keys text[] := '{}';
    b_rows capture.changes[] := '{}';
    b_id bigint;
    b_until timestamptz;
    chunk int;
    lo int;
  BEGIN
    SELECT * INTO g FROM consumer_groups WHERE name = group_name;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('consumer group %s not found', group_name);
    END IF;
    IF g.paused THEN
      RETURN;
    END IF;

    -- Nothing to do (nothing new in the log, nothing pending, no lease expired): no lock, no write,
    -- so the commit waits for no WAL flush.
    purged := coalesce((SELECT r.purged_through FROM notification_retention r WHERE r.id = 1), 0);
    log_end := greatest((SELECT max(b.last_id) FROM notification_batches b), (SELECT max(n.id) FROM notifications_legacy n), 0);
    SELECT EXISTS (SELECT 1 FROM consumer_messages m WHERE m.group_id = g.id AND m.state = 'pending' AND m.available_at <= clock_timestamp()),
           EXISTS (SELECT 1 FROM consumer_messages m WHERE m.group_id = g.id AND m.state = 'leased' AND m.leased_until < clock_timestamp())
           OR EXISTS (SELECT 1 FROM consumer_leases l WHERE l.group_id = g.id AND l.leased_until < clock_timestamp())
    INTO has_pending, has_expired;
    IF greatest(log_end, purged) <= g.scanned_through AND NOT has_pending AND NOT has_expired THEN
      RETURN;
    END IF;

    -- First what the group holds pending, without its row lock: receives lease it side by side
    -- (SKIP LOCKED), as many as their room (max_messages, and max_ack_pending less what is in flight).
    room := least(max_messages, ${IN_FLIGHT_ROOM});
    IF room > 0 AND has_pending THEN
      ${LEASE_PENDING}
      room := room - from_pending;
      IF room <= 0 THEN
        RETURN;
      END IF;
    END IF;

    -- Nothing else to do: no lock.
    IF NOT has_expired AND (room <= 0 OR greatest(log_end, purged) <= g.scanned_through) THEN
      RETURN;
    END IF;

    -- Then, one receive of the group at a time (on any instance), what needs the group's row lock:
    -- expired leases, and new notifications from the log. A receive holding messages it just leased
    -- does not wait for the lock (a seek holding it waits for those messages: a cycle); one holding
    -- none does, and the lock is taken before any message, as a seek takes it.
    -- NO KEY: the messages' and batches' foreign key checks do not wait on it.
    IF from_pending > 0 THEN
      SELECT * INTO g FROM consumer_groups cg WHERE cg.id = g.id FOR NO KEY UPDATE SKIP LOCKED;
    ELSE
      SELECT * INTO g FROM consumer_groups cg WHERE cg.id = g.id FOR NO KEY UPDATE;
    END IF;
    IF NOT FOUND OR g.paused THEN
      RETURN;
    END IF;

    -- Leases that had expired when this receive looked (a later one's expiry is the next receive's).
    expired := 0;
    IF has_expired THEN
      -- Batches whose lease expired: each of their messages the group's own again, pending at once,
      -- or a dead letter when max_deliver is 1.
      WITH gone AS (DELETE FROM consumer_leases l WHERE l.group_id = g.id AND l.leased_until < clock_timestamp() RETURNING l)
      INSERT INTO consumer_messages (group_id, notification_id, ordering_key, change_id, logged_at, state, deliveries, dead_at, available_at, last_error)
      SELECT g.id, u.notification_id, u.ordering_key, u.change_id, u.logged_at,
             CASE WHEN g.max_deliver IS NOT NULL AND g.max_deliver <= 1 THEN 'dead' ELSE 'pending' END, 1,
             CASE WHEN g.max_deliver IS NOT NULL AND g.max_deliver <= 1 THEN now() END, clock_timestamp(), 'its lease expired'
      FROM gone CROSS JOIN LATERAL consumer_lease_messages(gone.l) u
      ON CONFLICT DO NOTHING;
      GET DIAGNOSTICS expired = ROW_COUNT;

      -- Messages whose lease expired: pending again (at once), or dead letters after max_deliver deliveries.
      UPDATE consumer_messages m SET
        state = CASE WHEN g.max_deliver IS NOT NULL AND m.deliveries >= g.max_deliver THEN 'dead' ELSE 'pending' END,
        dead_at = CASE WHEN g.max_deliver IS NOT NULL AND m.deliveries >= g.max_deliver THEN now() END,
        lease_id = NULL, leased_until = NULL, available_at = clock_timestamp(), last_error = 'its lease expired'
      WHERE m.group_id = g.id AND m.state = 'leased' AND m.leased_until < clock_timestamp();
      GET DIAGNOSTICS n = ROW_COUNT;
      expired := expired + n;
    END IF;

    room := least(max_messages - leased, ${IN_FLIGHT_ROOM});
    IF room <= 0 THEN
      RETURN;
    END IF;
    -- What expired is pending now.
    IF expired > 0 THEN
      ${LEASE_PENDING}
      room := room - from_pending;
    END IF;

    -- Then new notifications from the log, as many as there is room for: a message not behind an
    -- earlier one of its key joins this receive's batch, one that is waits as pending (at most
    -- the buffer: four times max_ack_pending, at least 1,000). At most scan_ids ids are looked at.
    through := g.scanned_through;
    IF purged > through THEN
      UPDATE consumer_groups SET last_error = format('notifications %s–%s were deleted by retention before this group took them', through + 1, purged),
                                 last_error_at = now()
      WHERE consumer_groups.id = g.id;
      through := purged;
    END IF;
    buffer_room := greatest(g.max_ack_pending * 4, 1000) - (SELECT count(*) FROM consumer_messages m WHERE m.group_id = g.id AND m.state = 'pending')::int;
    -- A receive asking for fewer than scan_min takes the difference too, as pending: the receives
    -- beside it lease those without waiting for the lock.
    spare := greatest(0, scan_min - room);
    IF room > 0 AND buffer_room > 0 AND log_end > through THEN
      -- The keys the group's batches hold, read under the lock: every batch is committed or ours.
      IF g.order_by = 'key' THEN
        held_keys := ARRAY(SELECT u.ordering_key FROM consumer_leases l CROSS JOIN LATERAL consumer_lease_messages(l) u
                           WHERE l.group_id = g.id AND u.ordering_key IS NOT NULL);
      END IF;
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
        looked := hi - through;
        ${scanWindow(`
            SELECT n.id, NULL::bigint AS change_id, NULL::timestamptz AS logged_at, NULL::capture.changes AS change,
                   CASE WHEN g.order_by = 'key' THEN consumer_ordering_key(n.table_name, n.payload -> 'pk', e.row_data, g.key_columns) END AS key
            FROM notifications_legacy n
            CROSS JOIN LATERAL (SELECT coalesce(nullif(n.payload -> 'new', 'null'), nullif(n.payload -> 'old', 'null')) AS row_data) e
            WHERE n.id > through AND n.id <= hi
              AND ${passes('n.event', 'n.table_name', "n.payload -> 'pk'", 'e.row_data', "nullif(n.payload ->> 'backfill', '')::bigint")}
            ORDER BY n.id LIMIT lim`)}
      END IF;
      -- The batches, a window of ids at a time, from as many as are wanted (when every one
      -- matches, one window) growing while a filter passes over them: only the slice of each
      -- batch that the window covers is unnested and looked up.
      step := room + spare;
      WHILE room > 0 AND buffer_room > 0 AND through < log_end AND looked < scan_ids AND through >= legacy_end LOOP
        hi := least(through + step, log_end);
        looked := looked + (hi - through);
        ${scanWindow(`
            SELECT b.first_id + w.s + u.ord - 2 AS id, c.id AS change_id, b.created_at AS logged_at, ROW(c.*)::capture.changes AS change,
                   CASE WHEN g.order_by = 'key' THEN consumer_ordering_key(capture.qualified_name(c.schema_name, c.table_name), c.row_pk, e.row_data, g.key_columns) END AS key
            FROM notification_batches b
            CROSS JOIN LATERAL (SELECT greatest(1, through - b.first_id + 2)::int AS s, least(cardinality(b.change_ids), hi - b.first_id + 1)::int AS e) w
            CROSS JOIN LATERAL unnest(b.change_ids[w.s:w.e]) WITH ORDINALITY AS u(change_id, ord)
            CROSS JOIN LATERAL (SELECT * FROM capture.changes c WHERE c.id = u.change_id OFFSET 0) c
            CROSS JOIN LATERAL (SELECT coalesce(nullif(c.new, 'null'), nullif(c.old, 'null')) AS row_data) e
            WHERE b.last_id > through AND b.first_id <= hi
              AND ${passes('capture.event_name(c.schema_name, c.table_name, c.op)', 'capture.qualified_name(c.schema_name, c.table_name)', 'c.row_pk', 'e.row_data', 'c.backfill_id')}
            ORDER BY b.last_id, u.ord LIMIT lim`)}
        step := least(step * 2, scan_ids);
      END LOOP;
    END IF;
    IF through <> g.scanned_through THEN
      UPDATE consumer_groups SET scanned_through = through WHERE consumer_groups.id = g.id;
    END IF;
    IF cardinality(b_ids) = 0 THEN
      RETURN;
    END IF;

    -- The batch: a row for each ${BATCH_MAX} messages, their lease from now (clock_timestamp, not the
    -- transaction's start).
    b_until := clock_timestamp() + make_interval(secs => g.ack_wait_ms / 1000.0);
    FOR chunk IN 0 .. (cardinality(b_ids) - 1) / ${BATCH_MAX} LOOP
      lo := chunk * ${BATCH_MAX} + 1;
      hi := least(cardinality(b_ids), lo + ${BATCH_MAX} - 1);
      b_id := consumer_lease_new_batch();
      INSERT INTO consumer_leases (id, group_id, notification_ids, change_ids, logged_at, ordering_keys, leased_until)
      VALUES (b_id, g.id, b_ids[lo:hi], b_changes[lo:hi], b_logged[lo:hi], CASE WHEN g.order_by = 'key' THEN b_keys[lo:hi] END, b_until);
      RETURN QUERY
      SELECT b_ids[i]::text, consumer_lease_id(b_id, b_ids[i])::text, 1, b_until, b_logged[i], ${JOURNAL_COLUMNS}
      FROM generate_series(lo, hi) i
      CROSS JOIN LATERAL (SELECT (b_rows[i]).*) c
      ORDER BY i;
    END LOOP;
  END
  $fn$;
`;

/** consumer_settle: batch messages here; the rest by ConsumerCalls' consumer_settle, renamed consumer_settle_messages. */
export const SETTLE = `
  -- Settles leases of a group: ack, nack (delay_ms, else the group's backoff by delivery count, else
  -- at once; dead after max_deliver), extend (another ack wait from now), term (dead, for reason).
  -- Returns the lease ids that were current. A batch message (consumer_lease_id) is settled in its
  -- batch, under the batch's row lock: an ack removes it, anything else makes it a message of
  -- consumer_messages. The rest are the group's own messages: the join on the given ids is checked
  -- again against a row that changed meanwhile, so a lease settled, expired or leased anew in
  -- between is not.
  CREATE FUNCTION consumer_settle(group_name text, verb text, lease_ids uuid[], delay_ms int, reason text) RETURNS TABLE (lease_id text)
  LANGUAGE plpgsql AS $fn$
  #variable_conflict use_column
  DECLARE
    g consumer_groups;
    l consumer_leases;
    batch bigint;
    hit bigint[];
    done uuid[] := '{}';
    rest uuid[];
  BEGIN
    SELECT * INTO g FROM consumer_groups WHERE name = group_name;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('consumer group %s not found', group_name);
    END IF;
    IF verb NOT IN ('ack', 'nack', 'extend', 'term') THEN
      RAISE EXCEPTION 'consumer_settle: unknown verb %', verb;
    END IF;

    -- Batch messages, a batch at a time in id order (two settles never wait on each other in a cycle).
    FOR batch IN SELECT DISTINCT consumer_lease_batch(x) FROM unnest(lease_ids) x WHERE consumer_lease_batch(x) IS NOT NULL ORDER BY 1 LOOP
      SELECT * INTO l FROM consumer_leases cl WHERE cl.id = batch AND cl.group_id = g.id FOR UPDATE;
      CONTINUE WHEN NOT FOUND;
      hit := ARRAY(SELECT consumer_lease_notification(x) FROM unnest(lease_ids) x WHERE consumer_lease_batch(x) = batch
                   INTERSECT SELECT u.notification_id FROM consumer_lease_messages(l) u);
      CONTINUE WHEN cardinality(hit) = 0;
      IF verb <> 'ack' THEN
        INSERT INTO consumer_messages (group_id, notification_id, ordering_key, change_id, logged_at, state, deliveries, lease_id, leased_until,
                                       available_at, dead_at, last_error)
        SELECT g.id, u.notification_id, u.ordering_key, u.change_id, u.logged_at, s.state, 1,
               CASE WHEN s.state = 'leased' THEN consumer_lease_id(batch, u.notification_id) END,
               CASE WHEN s.state = 'leased' THEN clock_timestamp() + make_interval(secs => g.ack_wait_ms / 1000.0) END,
               CASE WHEN verb = 'nack' THEN clock_timestamp() + make_interval(secs => coalesce(delay_ms, g.backoff_ms[least(1, cardinality(g.backoff_ms))], 0) / 1000.0)
                    ELSE clock_timestamp() END,
               CASE WHEN s.state = 'dead' THEN now() END,
               CASE verb WHEN 'nack' THEN 'nacked' WHEN 'term' THEN reason END
        FROM consumer_lease_messages(l) u
        CROSS JOIN LATERAL (SELECT CASE verb WHEN 'extend' THEN 'leased' WHEN 'term' THEN 'dead'
                                        ELSE CASE WHEN g.max_deliver IS NOT NULL AND g.max_deliver <= 1 THEN 'dead' ELSE 'pending' END END AS state) s
        WHERE u.notification_id = ANY (hit);
      END IF;
      -- The batch goes with its last message; until then only its list of settled ids grows (its
      -- other arrays, stored apart once large, are not rewritten).
      IF cardinality(l.settled) + cardinality(hit) = cardinality(l.notification_ids) THEN
        DELETE FROM consumer_leases cl WHERE cl.id = batch;
      ELSE
        UPDATE consumer_leases cl SET settled = cl.settled || hit WHERE cl.id = batch;
      END IF;
      done := done || ARRAY(SELECT consumer_lease_id(batch, n) FROM unnest(hit) n);
    END LOOP;
    RETURN QUERY SELECT d::text FROM unnest(done) d;
    rest := ARRAY(SELECT x FROM unnest(lease_ids) x EXCEPT SELECT unnest(done));
    IF cardinality(rest) = 0 THEN
      RETURN;
    END IF;

    -- The group's own messages, as ConsumerCalls settles them.
    RETURN QUERY SELECT * FROM consumer_settle_messages(group_name, verb, rest, delay_ms, reason);
  END
  $fn$;
`;
