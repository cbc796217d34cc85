import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { CoalesceMode } from '../../client/src/protocol.js';
import { ExhaustedAction, Sink, SinkKind, SinkState } from './sink.js';
import { DeliveryAttempt } from './sink-transport.js';

interface SinkRow {
  id: string;
  kind: SinkKind;
  name: string;
  filter: Sink['filter'];
  config: Sink['config'];
  secrets: Sink['secrets'];
  state: SinkState;
  on_exhausted: ExhaustedAction;
  coalesce_mode: CoalesceMode | null;
  position: string;
  last_error: string | null;
  last_error_at: Date | null;
  recovered_at: Date | null;
  last_delivered_id: string | null;
  last_delivered_at: Date | null;
  owner: string | null;
  revision: number;
  created_at: Date;
  updated_at: Date;
}

export interface NewSink {
  kind: SinkKind;
  name: string;
  filter: Sink['filter'];
  config: Sink['config'];
  secrets: Sink['secrets'];
  onExhausted: ExhaustedAction;
  coalesce: CoalesceMode | null;
  position: bigint;
  /** Why its destination could not be readied (the sink starts `failing`), if it could not. */
  lastError: string | null;
}

export type SinkChanges = Partial<Pick<Sink, 'name' | 'filter' | 'config' | 'secrets' | 'state' | 'onExhausted' | 'coalesce'>>;

/** Where a sink's delivery stands after a send, written with its attempts in one statement. */
export interface Checkpoint {
  position: bigint;
  state: SinkState;
  lastError: string | null;
  /** The receiver confirmed a send since the last error was written: that error is history now. */
  recovered: boolean;
  /** The last notification the receiver confirmed since the last checkpoint, if any: delivered now. */
  lastDelivered: bigint | null;
  attempts: readonly DeliveryAttempt[];
}

export interface DeadLetter {
  notificationId: string;
  attempts: number;
  lastError: string;
  createdAt: Date;
}

/** Attempts kept per sink for `GET …/deliveries`; older ones are trimmed. */
export const KEPT_ATTEMPTS = 1000;

/** The one owner of the sink tables' SQL. */
@Injectable()
export class SinkRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The statement's rows, whatever its command (DataSource.query returns [rows, count] for UPDATE and DELETE). */
  private async rows<R>(text: string, values: unknown[]): Promise<R[]> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return (await runner.query(text, values, true)).records as R[];
    } finally {
      await runner.release();
    }
  }

  async create(sink: NewSink): Promise<Sink> {
    const [row] = await this.rows<SinkRow>(
      `INSERT INTO sinks (kind, name, filter, config, secrets, on_exhausted, position, state, last_error, last_error_at, coalesce_mode)
       VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::text IS NULL THEN 'active' ELSE 'failing' END, $8, CASE WHEN $8 IS NULL THEN NULL ELSE now() END, $9)
       RETURNING *`,
      [sink.kind, sink.name, sink.filter, sink.config, sink.secrets, sink.onExhausted, sink.position.toString(), sink.lastError, sink.coalesce],
    );
    return toSink(row);
  }

  async list(kind?: SinkKind): Promise<Sink[]> {
    const rows = await this.rows<SinkRow>(
      `SELECT * FROM sinks WHERE $1::text IS NULL OR kind = $1 ORDER BY created_at, name`,
      [kind ?? null],
    );
    return rows.map(toSink);
  }

  async get(id: string): Promise<Sink | undefined> {
    const [row] = await this.rows<SinkRow>(`SELECT * FROM sinks WHERE id = $1`, [id]);
    return row && toSink(row);
  }

  async update(id: string, changes: SinkChanges): Promise<Sink | undefined> {
    const [row] = await this.rows<SinkRow>(
      `UPDATE sinks SET
         name = coalesce($2, name), filter = coalesce($3, filter), config = coalesce($4, config),
         secrets = coalesce($5, secrets), state = coalesce($6, state), on_exhausted = coalesce($7, on_exhausted),
         coalesce_mode = CASE WHEN $8 THEN $9 ELSE coalesce_mode END, updated_at = now()
       WHERE id = $1 RETURNING *`,
      [
        id,
        changes.name ?? null,
        changes.filter ?? null,
        changes.config ?? null,
        changes.secrets ?? null,
        changes.state ?? null,
        changes.onExhausted ?? null,
        changes.coalesce !== undefined,
        changes.coalesce ?? null,
      ],
    );
    return row && toSink(row);
  }

  async remove(id: string): Promise<boolean> {
    const rows = await this.rows<unknown>(`DELETE FROM sinks WHERE id = $1 RETURNING id`, [id]);
    return rows.length > 0;
  }

  /** Moves a sink's position back (or on) to `position`: everything after it is delivered again. */
  async rewind(id: string, position: bigint): Promise<boolean> {
    const rows = await this.rows<unknown>(
      `UPDATE sinks SET position = $2, revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING id`,
      [id, position.toString()],
    );
    return rows.length > 0;
  }

  /**
   * Takes or renews the lease of every sink that is free, expired or already this instance's;
   * returns the ids this instance now owns.
   */
  async claim(owner: string, leaseMs: number): Promise<string[]> {
    const rows = await this.rows<{ id: string }>(
      `UPDATE sinks SET owner = $1, lease_until = now() + $2 * interval '1 millisecond'
       WHERE owner = $1 OR owner IS NULL OR lease_until < now() RETURNING id`,
      [owner, leaseMs],
    );
    return rows.map((row) => row.id);
  }

  async release(owner: string): Promise<void> {
    await this.rows(`UPDATE sinks SET owner = NULL, lease_until = NULL WHERE owner = $1`, [owner]);
  }

  /**
   * Records attempts and moves the position, only while `owner` still holds the sink at the
   * revision it read. False otherwise (lease taken over, sink deleted or changed through the API):
   * the caller reads the sink again before it goes on.
   */
  async checkpoint(id: string, owner: string, revision: number, checkpoint: Checkpoint): Promise<boolean> {
    const { attempts } = checkpoint;
    const [row] = await this.rows<{ owned: boolean }>(
      `WITH moved AS (
         UPDATE sinks SET
           position = $3,
           state = CASE WHEN state = 'paused' AND $4 <> 'paused' THEN state ELSE $4 END,
           last_error = coalesce($5, last_error),
           last_error_at = CASE WHEN $5 IS NULL THEN last_error_at ELSE now() END,
           recovered_at = CASE WHEN $5 IS NOT NULL THEN NULL
                               WHEN $13 AND last_error IS NOT NULL THEN coalesce(recovered_at, now())
                               ELSE recovered_at END,
           last_delivered_id = coalesce($14, last_delivered_id),
           last_delivered_at = CASE WHEN $14 IS NULL THEN last_delivered_at ELSE now() END
         WHERE id = $1 AND owner = $2 AND revision = $12
         RETURNING id),
       recorded AS (
         INSERT INTO sink_deliveries (sink_id, notification_id, at, status_code, latency_ms, delivered, detail)
         SELECT m.id, a.notification_id, a.at, a.status_code, a.latency_ms, a.delivered, a.detail
         FROM moved m, unnest($6::bigint[], $7::timestamptz[], $8::int[], $9::int[], $10::boolean[], $11::text[])
           AS a(notification_id, at, status_code, latency_ms, delivered, detail))
       SELECT EXISTS (SELECT 1 FROM moved) AS owned`,
      [
        id,
        owner,
        checkpoint.position.toString(),
        checkpoint.state,
        checkpoint.lastError,
        attempts.map((a) => a.notificationId),
        attempts.map((a) => a.at),
        attempts.map((a) => a.statusCode ?? null),
        attempts.map((a) => a.latencyMs),
        attempts.map((a) => a.delivered),
        attempts.map((a) => a.detail),
        revision,
        checkpoint.recovered,
        checkpoint.lastDelivered?.toString() ?? null,
      ],
    );
    return row.owned;
  }

  /** Keeps a sink's newest KEPT_ATTEMPTS attempts. */
  async trimAttempts(id: string): Promise<void> {
    await this.rows(
      `DELETE FROM sink_deliveries WHERE sink_id = $1 AND id < (
         SELECT id FROM sink_deliveries WHERE sink_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
      [id, KEPT_ATTEMPTS - 1],
    );
  }

  async attempts(id: string, limit: number): Promise<DeliveryAttempt[]> {
    const rows = await this.rows<{ notification_id: string; at: Date; status_code: number | null; latency_ms: number; delivered: boolean; detail: string }>(
      `SELECT notification_id::text, at, status_code, latency_ms, delivered, detail
       FROM sink_deliveries WHERE sink_id = $1 ORDER BY id DESC LIMIT $2`,
      [id, limit],
    );
    return rows.map((row) => ({
      notificationId: row.notification_id,
      at: row.at,
      statusCode: row.status_code ?? undefined,
      latencyMs: row.latency_ms,
      delivered: row.delivered,
      detail: row.detail,
    }));
  }

  async addDeadLetter(id: string, notificationId: string, attempts: number, lastError: string): Promise<void> {
    await this.rows(
      `INSERT INTO sink_dead_letters (sink_id, notification_id, attempts, last_error) VALUES ($1, $2, $3, $4)
       ON CONFLICT (sink_id, notification_id) DO UPDATE SET attempts = excluded.attempts, last_error = excluded.last_error, created_at = now()`,
      [id, notificationId, attempts, lastError],
    );
  }

  async deadLetters(id: string, limit: number): Promise<DeadLetter[]> {
    const rows = await this.rows<{ notification_id: string; attempts: number; last_error: string; created_at: Date }>(
      `SELECT notification_id::text, attempts, last_error, created_at FROM sink_dead_letters
       WHERE sink_id = $1 ORDER BY notification_id LIMIT $2`,
      [id, limit],
    );
    return rows.map((row) => ({ notificationId: row.notification_id, attempts: row.attempts, lastError: row.last_error, createdAt: row.created_at }));
  }

  /** Queues one notification for delivery again (ahead of the sink's position). */
  async redeliver(id: string, notificationId: string): Promise<void> {
    await this.rows(
      `INSERT INTO sink_redeliveries (sink_id, notification_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
      [id, notificationId],
    );
  }

  /** Queues notifications for delivery again (ahead of the sink's position); returns how many were not queued already. */
  async redeliverMany(id: string, notificationIds: readonly string[]): Promise<number> {
    const [row] = await this.rows<{ count: number }>(
      `WITH queued AS (INSERT INTO sink_redeliveries (sink_id, notification_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING RETURNING 1)
       SELECT count(*)::int AS count FROM queued`,
      [id, notificationIds],
    );
    return row.count;
  }

  /** How many dead letters the sink has. */
  async deadLetterCount(id: string): Promise<number> {
    const [row] = await this.rows<{ count: number }>(`SELECT count(*)::int AS count FROM sink_dead_letters WHERE sink_id = $1`, [id]);
    return row.count;
  }

  /** Moves every dead letter to the redelivery queue; returns how many. */
  async redeliverDeadLetters(id: string): Promise<number> {
    const [row] = await this.rows<{ count: number }>(
      `WITH moved AS (DELETE FROM sink_dead_letters WHERE sink_id = $1 RETURNING notification_id),
       queued AS (INSERT INTO sink_redeliveries (sink_id, notification_id) SELECT $1, notification_id FROM moved ON CONFLICT DO NOTHING)
       SELECT count(*)::int AS count FROM moved`,
      [id],
    );
    return row.count;
  }

  /** The queued redeliveries, oldest notification first. */
  async queuedRedeliveries(id: string, limit: number): Promise<string[]> {
    const rows = await this.rows<{ notification_id: string }>(
      `SELECT notification_id::text FROM sink_redeliveries WHERE sink_id = $1 ORDER BY notification_id LIMIT $2`,
      [id, limit],
    );
    return rows.map((row) => row.notification_id);
  }

  /** A queued redelivery is done: delivered, dead-lettered again, or gone from the log. */
  async redelivered(id: string, notificationId: string): Promise<void> {
    await this.rows(`DELETE FROM sink_redeliveries WHERE sink_id = $1 AND notification_id = $2`, [id, notificationId]);
  }
}

function toSink(row: SinkRow): Sink {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    filter: row.filter,
    config: row.config,
    secrets: row.secrets,
    state: row.state,
    onExhausted: row.on_exhausted,
    coalesce: row.coalesce_mode,
    position: BigInt(row.position),
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
    recoveredAt: row.recovered_at,
    lastDeliveredId: row.last_delivered_id === null ? null : BigInt(row.last_delivered_id),
    lastDeliveredAt: row.last_delivered_at,
    owner: row.owner,
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  } as Sink; // the row's kind says which kind of sink its config and secrets are of
}
