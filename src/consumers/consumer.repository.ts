import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { PG, postgresError } from '../common/errors/postgres-error.js';
import { inTransaction, poolSql, Sql } from '../database/sql.js';
import type { BatchedRow } from '../log/notification-log.js';
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

/**
 * A message a receive leased, with its notification as the log's readers select it (`id` is the
 * notification's); the journal columns are null when the log has it only as a legacy row, or no longer.
 */
export interface ReceivedRow extends BatchedRow {
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

  /** Counts per state of one group (or of every group), for the API and /metrics: a batch's messages are in flight. */
  async counts(groupId?: string): Promise<(ConsumerCounts & { name: string; scannedThrough: bigint })[]> {
    const rows = await this.sql<{ name: string; scanned_through: string; pending: number; in_flight: number; dead: number; oldest: string | null }>(
      `SELECT g.name, g.scanned_through::text, c.pending, c.in_flight + b.in_flight AS in_flight, c.dead,
              least(c.oldest, b.oldest)::text AS oldest
       FROM consumer_groups g
       CROSS JOIN LATERAL (
         SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending, count(*) FILTER (WHERE state = 'leased')::int AS in_flight,
                count(*) FILTER (WHERE state = 'dead')::int AS dead, min(notification_id) FILTER (WHERE state <> 'dead') AS oldest
         FROM consumer_messages m WHERE m.group_id = g.id) c
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS in_flight, min(u.notification_id) AS oldest
         FROM consumer_leases l CROSS JOIN LATERAL consumer_lease_messages(l) u WHERE l.group_id = g.id) b
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
   * One receive, one statement (consumer_receive, migrations ConsumerCalls and ConsumerLeaseBatches):
   * up to `max` messages leased, per-key order kept, each with its journal row, in id order. The
   * group's pending messages first (receives side by side); then, one receive of the group at a time,
   * expired leases back to pending or dead, and new notifications from the log as one lease batch
   * (`scan.min`: a receive asking for fewer takes that many, the rest pending for the receives beside
   * it; `scan.ids`: at most that many ids looked at). Nothing for a paused group; undefined for a
   * group that does not exist.
   */
  async receive(name: string, max: number, scan: { min: number; ids: number }): Promise<ReceivedRow[] | undefined> {
    const rows = await notFoundAsUndefined(() =>
      this.sql<ReceivedRow>(`SELECT * FROM consumer_receive($1, $2, $3, $4)`, [name, max, scan.min, scan.ids]),
    );
    // Pending ones an expiry freed under the lock may come after the batch's: in id order again
    // (decimal ids without leading zeros: the shorter is the smaller; no BigInt per comparison).
    return rows?.sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Messages the log has no notification for (retention, or a journal row it leaves out): acknowledged, so never delivered again, and `reason` said in the group's last error. */
  async dropLost(name: string, leaseIds: readonly string[], reason: string): Promise<void> {
    await this.settle(name, 'ack', leaseIds);
    await this.sql(`UPDATE consumer_groups SET last_error = $2, last_error_at = now() WHERE name = $1`, [name, reason]);
  }

  /** Acknowledged: the messages are done (deleted). */
  ack(name: string, leaseIds: readonly string[]): Promise<Settled | undefined> {
    return this.settle(name, 'ack', leaseIds);
  }

  /**
   * Not done: delivered again after `delayMs`, or the group's backoff for its delivery count (at
   * once without either); a dead letter when it was delivered max_deliver times.
   */
  nack(name: string, leaseIds: readonly string[], delayMs: number | undefined): Promise<Settled | undefined> {
    return this.settle(name, 'nack', leaseIds, delayMs);
  }

  /** Still working: the leases run for another ack wait from now. */
  extend(name: string, leaseIds: readonly string[]): Promise<Settled | undefined> {
    return this.settle(name, 'extend', leaseIds);
  }

  /** Never to be delivered again: dead letters at once. */
  term(name: string, leaseIds: readonly string[], reason: string): Promise<Settled | undefined> {
    return this.settle(name, 'term', leaseIds, undefined, reason);
  }

  /** One statement (consumer_settle): which of the lease ids were current and are settled now; undefined for a group that does not exist. */
  private async settle(name: string, verb: 'ack' | 'nack' | 'extend' | 'term', leaseIds: readonly string[], delayMs?: number, reason?: string): Promise<Settled | undefined> {
    const rows = await notFoundAsUndefined(() =>
      this.sql<{ lease_id: string }>(`SELECT lease_id FROM consumer_settle($1, $2, $3::uuid[], $4, $5)`, [name, verb, leaseIds, delayMs ?? null, reason ?? null]),
    );
    if (!rows) return undefined;
    const done = new Set(rows.map((row) => row.lease_id));
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
    await sql(`DELETE FROM consumer_leases WHERE group_id = $1`, [groupId]);
    await sql(`UPDATE consumer_groups SET scanned_through = $2, updated_at = now() WHERE id = $1`, [groupId, position.toString()]);
  }
}

/** consumer_receive and consumer_settle raise no_data_found for a group that does not exist. */
async function notFoundAsUndefined<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    if (postgresError(error)?.code === PG.noDataFound) return undefined;
    throw error;
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
