import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { inTransaction, poolSql, Sql } from '../database/sql.js';
import { ConsumerCounts, ConsumerGroup, ConsumerOrder } from './consumer-group.js';

interface GroupRow {
  id: string;
  name: string;
  filter: ConsumerGroup['filter'];
  order_by: ConsumerOrder;
  key_columns: string[] | null;
  ack_wait_ms: number;
  max_ack_pending: number;
  max_deliver: number | null;
  backoff_ms: number[];
  paused: boolean;
  scanned_through: string;
  last_error: string | null;
  last_error_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type NewConsumerGroup = Pick<ConsumerGroup, 'name' | 'filter' | 'order' | 'keyColumns' | 'ackWaitMs' | 'maxAckPending' | 'maxDeliver' | 'backoffMs' | 'scannedThrough'>;
export type ConsumerGroupChanges = Partial<Pick<ConsumerGroup, 'filter' | 'ackWaitMs' | 'maxAckPending' | 'maxDeliver' | 'backoffMs' | 'paused'>>;

/** A leased message's row: the notification is read from the log by its id. */
export interface LeaseRow {
  notification_id: string;
  lease_id: string;
  deliveries: number;
  leased_until: Date;
}

export interface DeadLetterRow {
  notification_id: string;
  deliveries: number;
  last_error: string | null;
  dead_at: Date;
}

/** What happened to each lease id of a settle call. */
export interface Settled {
  /** Lease ids that were current (or expired but not yet delivered again): done. */
  done: string[];
  /** Lease ids the group no longer has: settled before, expired and delivered again, or never given. */
  unknown: string[];
}

/** Why a message became a dead letter, as its last error says. */
const EXPIRED = 'its lease expired';

/** The one owner of the consumer tables' SQL. */
@Injectable()
export class ConsumerRepository {
  private readonly sql: Sql;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.sql = poolSql(dataSource);
  }

  async create(group: NewConsumerGroup): Promise<ConsumerGroup> {
    const [row] = await this.sql<GroupRow>(
      `INSERT INTO consumer_groups (name, filter, order_by, key_columns, ack_wait_ms, max_ack_pending, max_deliver, backoff_ms, scanned_through)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
      [
        group.name,
        group.filter,
        group.order,
        group.keyColumns,
        group.ackWaitMs,
        group.maxAckPending,
        group.maxDeliver,
        group.backoffMs,
        group.scannedThrough.toString(),
      ],
    );
    return toGroup(row);
  }

  async list(): Promise<ConsumerGroup[]> {
    return (await this.sql<GroupRow>(`SELECT * FROM consumer_groups ORDER BY created_at, name`)).map(toGroup);
  }

  async get(name: string): Promise<ConsumerGroup | undefined> {
    const [row] = await this.sql<GroupRow>(`SELECT * FROM consumer_groups WHERE name = $1`, [name]);
    return row && toGroup(row);
  }

  async update(name: string, changes: ConsumerGroupChanges): Promise<ConsumerGroup | undefined> {
    const [row] = await this.sql<GroupRow>(
      `UPDATE consumer_groups SET
         filter = coalesce($2, filter), ack_wait_ms = coalesce($3, ack_wait_ms), max_ack_pending = coalesce($4, max_ack_pending),
         max_deliver = CASE WHEN $5 THEN $6 ELSE max_deliver END, backoff_ms = coalesce($7, backoff_ms), paused = coalesce($8, paused),
         updated_at = now()
       WHERE name = $1 RETURNING *`,
      [
        name,
        changes.filter ?? null,
        changes.ackWaitMs ?? null,
        changes.maxAckPending ?? null,
        changes.maxDeliver !== undefined,
        changes.maxDeliver ?? null,
        changes.backoffMs ?? null,
        changes.paused ?? null,
      ],
    );
    return row && toGroup(row);
  }

  async remove(name: string): Promise<boolean> {
    return (await this.sql(`DELETE FROM consumer_groups WHERE name = $1 RETURNING id`, [name])).length > 0;
  }

  /** Counts per state of one group (or of every group), for the API and /metrics. */
  async counts(groupId?: string): Promise<(ConsumerCounts & { name: string; scannedThrough: bigint })[]> {
    const rows = await this.sql<{ name: string; scanned_through: string; pending: number; in_flight: number; dead: number; oldest: string | null }>(
      `SELECT g.name, g.scanned_through::text, c.*
       FROM consumer_groups g
       CROSS JOIN LATERAL (
         SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending, count(*) FILTER (WHERE state = 'leased')::int AS in_flight,
                count(*) FILTER (WHERE state = 'dead')::int AS dead, min(notification_id) FILTER (WHERE state <> 'dead')::text AS oldest
         FROM consumer_messages m WHERE m.group_id = g.id) c
       WHERE $1::uuid IS NULL OR g.id = $1
       ORDER BY g.name`,
      [groupId ?? null],
    );
    return rows.map((row) => ({
      name: row.name,
      scannedThrough: BigInt(row.scanned_through),
      pending: row.pending,
      inFlight: row.in_flight,
      deadLetters: row.dead,
      oldestUnacked: row.oldest === null ? null : BigInt(row.oldest),
    }));
  }

  /** Runs `work` in one transaction. */
  transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    return inTransaction(this.dataSource, work);
  }

  /**
   * The group's scan position, locked for this transaction, unless another transaction holds it (a
   * receive of the same group taking new notifications from the log right now): then undefined,
   * and this receive leases what is there without scanning. Undefined too for a deleted group.
   */
  async lockForScan(sql: Sql, groupId: string): Promise<bigint | undefined> {
    const [row] = await sql<{ scanned_through: string }>(`SELECT scanned_through::text FROM consumer_groups WHERE id = $1 FOR UPDATE SKIP LOCKED`, [groupId]);
    return row && BigInt(row.scanned_through);
  }

  /**
   * Runs `work` in a transaction holding the group's row lock (a seek: no receive scans meanwhile).
   * Undefined when the group does not exist.
   */
  locked<T>(name: string, work: (group: ConsumerGroup, sql: Sql) => Promise<T>): Promise<T | undefined> {
    return this.transaction(async (sql) => {
      const [row] = await sql<GroupRow>(`SELECT * FROM consumer_groups WHERE name = $1 FOR UPDATE`, [name]);
      return row ? work(toGroup(row), sql) : undefined;
    });
  }

  /**
   * Leases that expired go back to pending (available at once), or become dead letters when they
   * were delivered max_deliver times.
   */
  async expireLeases(sql: Sql, group: ConsumerGroup): Promise<void> {
    await sql(
      `UPDATE consumer_messages SET
         state = CASE WHEN $2::int IS NOT NULL AND deliveries >= $2 THEN 'dead' ELSE 'pending' END,
         dead_at = CASE WHEN $2::int IS NOT NULL AND deliveries >= $2 THEN now() END,
         lease_id = NULL, leased_until = NULL, available_at = clock_timestamp(), last_error = $3
       WHERE group_id = $1 AND state = 'leased' AND leased_until < clock_timestamp()`,
      [group.id, group.maxDeliver, EXPIRED],
    );
  }

  /** Messages the group holds that are not dead letters: the buffer the scan fills. */
  async buffered(sql: Sql, groupId: string): Promise<number> {
    const [row] = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM consumer_messages WHERE group_id = $1 AND state <> 'dead'`, [groupId]);
    return row.n;
  }

  /** Adds the notifications `ids` (with their ordering keys) as pending messages and moves the scan to `through`. */
  async addMessages(sql: Sql, groupId: string, messages: { id: string; key: string | null }[], through: bigint): Promise<void> {
    if (messages.length) {
      await sql(
        `INSERT INTO consumer_messages (group_id, notification_id, ordering_key)
         SELECT $1, m.id, m.key FROM unnest($2::bigint[], $3::text[]) m(id, key)
         ON CONFLICT DO NOTHING`,
        [groupId, messages.map((m) => m.id), messages.map((m) => m.key)],
      );
    }
    await sql(`UPDATE consumer_groups SET scanned_through = $2 WHERE id = $1`, [groupId, through.toString()]);
  }

  /**
   * Leases up to `max` available messages, lowest ids first, within max_ack_pending (as this
   * statement sees the leases: receives running side by side may exceed it by a few). With per-key
   * order a message is available only when no earlier message of its key is pending or leased, as
   * committed or locked: a receive skips the messages another one is leasing (SKIP LOCKED), and
   * their later messages are still behind them. The lease runs from now (clock_timestamp, not the
   * transaction's start).
   */
  async lease(sql: Sql, group: ConsumerGroup, max: number): Promise<LeaseRow[]> {
    return sql<LeaseRow>(
      `WITH room AS (
         SELECT greatest(0, least($2::int, $3::int - (SELECT count(*) FROM consumer_messages WHERE group_id = $1 AND state = 'leased')::int)) AS n),
       chosen AS MATERIALIZED (
         SELECT m.notification_id FROM consumer_messages m
         WHERE m.group_id = $1 AND m.state = 'pending' AND m.available_at <= clock_timestamp()
           AND (m.ordering_key IS NULL OR NOT EXISTS (
                 SELECT 1 FROM consumer_messages h
                 WHERE h.group_id = $1 AND h.ordering_key = m.ordering_key AND h.notification_id < m.notification_id AND h.state <> 'dead'))
         ORDER BY m.notification_id
         LIMIT (SELECT n FROM room)
         FOR UPDATE OF m SKIP LOCKED)
       UPDATE consumer_messages m SET state = 'leased', lease_id = gen_random_uuid(), deliveries = m.deliveries + 1,
              leased_until = clock_timestamp() + make_interval(secs => $4::int / 1000.0)
       WHERE m.group_id = $1 AND m.notification_id = ANY (ARRAY(SELECT notification_id FROM chosen))
       RETURNING m.notification_id::text, m.lease_id::text, m.deliveries, m.leased_until`,
      [group.id, max, group.maxAckPending, group.ackWaitMs],
    );
  }

  /** Messages whose notification the log no longer has (retention): dropped, and said in the group's last error. */
  async dropLost(sql: Sql, groupId: string, ids: readonly string[], reason: string): Promise<void> {
    await sql(`DELETE FROM consumer_messages WHERE group_id = $1 AND notification_id = ANY ($2::bigint[])`, [groupId, ids]);
    await this.fail(sql, groupId, reason);
  }

  async fail(sql: Sql, groupId: string, reason: string): Promise<void> {
    await sql(`UPDATE consumer_groups SET last_error = $2, last_error_at = now() WHERE id = $1`, [groupId, reason]);
  }

  /** Acknowledged: the messages are done (deleted). */
  ack(groupId: string, leaseIds: readonly string[]): Promise<Settled> {
    return this.settle(leaseIds, `DELETE FROM consumer_messages WHERE group_id = $1 AND state = 'leased' AND lease_id = ANY ($2::uuid[]) RETURNING lease_id::text`, [groupId]);
  }

  /**
   * Not done: delivered again after `delayMs`, or the group's backoff for its delivery count (at
   * once without either); a dead letter when it was delivered max_deliver times.
   */
  nack(group: ConsumerGroup, leaseIds: readonly string[], delayMs: number | undefined): Promise<Settled> {
    return this.settle(
      leaseIds,
      `UPDATE consumer_messages SET
         state = CASE WHEN $3::int IS NOT NULL AND deliveries >= $3 THEN 'dead' ELSE 'pending' END,
         dead_at = CASE WHEN $3::int IS NOT NULL AND deliveries >= $3 THEN now() END,
         available_at = clock_timestamp() + make_interval(secs => coalesce($4::int, ($5::int[])[least(deliveries, cardinality($5::int[]))], 0) / 1000.0),
         lease_id = NULL, leased_until = NULL, last_error = 'nacked'
       WHERE group_id = $1 AND state = 'leased' AND lease_id = ANY ($2::uuid[]) RETURNING NULL::text AS lease_id`,
      [group.id, group.maxDeliver, delayMs ?? null, group.backoffMs],
      true,
    );
  }

  /** Still working: the leases run for another ack wait from now. */
  extend(group: ConsumerGroup, leaseIds: readonly string[]): Promise<Settled> {
    return this.settle(
      leaseIds,
      `UPDATE consumer_messages SET leased_until = clock_timestamp() + make_interval(secs => $3::int / 1000.0)
       WHERE group_id = $1 AND state = 'leased' AND lease_id = ANY ($2::uuid[]) RETURNING lease_id::text`,
      [group.id, group.ackWaitMs],
    );
  }

  /** Never to be delivered again: dead letters at once. */
  term(groupId: string, leaseIds: readonly string[], reason: string): Promise<Settled> {
    return this.settle(
      leaseIds,
      `UPDATE consumer_messages SET state = 'dead', dead_at = now(), lease_id = NULL, leased_until = NULL, last_error = $3
       WHERE group_id = $1 AND state = 'leased' AND lease_id = ANY ($2::uuid[]) RETURNING NULL::text AS lease_id`,
      [groupId, reason],
      true,
    );
  }

  /**
   * Runs a statement over the lease ids (its $2), the other values being $1, $3, …. A statement that
   * clears the lease id cannot return it: `before` then reads which of them were current first, in
   * the same transaction.
   */
  private async settle(leaseIds: readonly string[], statement: string, values: unknown[], before = false): Promise<Settled> {
    const [groupId, ...rest] = values;
    const run = async (sql: Sql) => {
      const current = before
        ? (await sql<{ lease_id: string }>(`SELECT lease_id::text FROM consumer_messages WHERE group_id = $1 AND state = 'leased' AND lease_id = ANY ($2::uuid[]) FOR UPDATE`, [groupId, leaseIds])).map((row) => row.lease_id)
        : undefined;
      const returned = (await sql<{ lease_id: string | null }>(statement, [groupId, leaseIds, ...rest])).map((row) => row.lease_id);
      return current ?? (returned as string[]);
    };
    const done = new Set(before ? await this.transaction(run) : await run(this.sql));
    return { done: leaseIds.filter((id) => done.has(id)), unknown: leaseIds.filter((id) => !done.has(id)) };
  }

  async deadLetters(groupId: string, limit: number): Promise<DeadLetterRow[]> {
    return this.sql<DeadLetterRow>(
      `SELECT notification_id::text, deliveries, last_error, dead_at FROM consumer_messages
       WHERE group_id = $1 AND state = 'dead' ORDER BY notification_id LIMIT $2`,
      [groupId, limit],
    );
  }

  /** Dead letters (all, or those of `ids`) back to pending, their delivery count from 0; how many. */
  async redeliverDeadLetters(groupId: string, ids: readonly string[] | undefined): Promise<number> {
    return (
      await this.sql(
        `UPDATE consumer_messages SET state = 'pending', deliveries = 0, available_at = now(), dead_at = NULL
         WHERE group_id = $1 AND state = 'dead' AND ($2::bigint[] IS NULL OR notification_id = ANY ($2::bigint[])) RETURNING 1`,
        [groupId, ids ?? null],
      )
    ).length;
  }

  async purgeDeadLetters(groupId: string): Promise<number> {
    return (await this.sql(`DELETE FROM consumer_messages WHERE group_id = $1 AND state = 'dead' RETURNING 1`, [groupId])).length;
  }

  /** Every message not a dead letter is forgotten (leases out there become unknown) and the scan starts after `position`. */
  async seek(sql: Sql, groupId: string, position: bigint): Promise<void> {
    await sql(`DELETE FROM consumer_messages WHERE group_id = $1 AND state <> 'dead'`, [groupId]);
    await sql(`UPDATE consumer_groups SET scanned_through = $2, updated_at = now() WHERE id = $1`, [groupId, position.toString()]);
  }
}

function toGroup(row: GroupRow): ConsumerGroup {
  return {
    id: row.id,
    name: row.name,
    filter: row.filter,
    order: row.order_by,
    keyColumns: row.key_columns,
    ackWaitMs: row.ack_wait_ms,
    maxAckPending: row.max_ack_pending,
    maxDeliver: row.max_deliver,
    backoffMs: row.backoff_ms,
    paused: row.paused,
    scannedThrough: BigInt(row.scanned_through),
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
