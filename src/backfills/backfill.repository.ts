import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { inTransaction, poolSql, Sql } from '../database/sql.js';
import type { Backfill, BackfillState } from './backfill.js';
import { backfillChunk, ChunkResult } from './chunks.js';

interface BackfillRow {
  id: string;
  table_name: string;
  key: string[];
  where: Backfill['where'];
  destinations: string[] | null;
  end_key: Record<string, unknown> | null;
  cursor: Record<string, unknown> | null;
  rows_done: string;
  estimate: string;
  chunk_size: number;
  state: BackfillState;
  error: string | null;
  actor: string;
  created_at: Date;
  updated_at: Date;
  resumed_at: Date;
  rows_at_resume: string;
  finished_at: Date | null;
}

const COLUMNS = `b.id::text AS id, b.table_name, b.key, b."where", b.destinations::text[] AS destinations, b.end_key, b.cursor, b.rows_done::text, b.estimate::text, b.chunk_size,
  b.state, b.error, b.actor, b.created_at, b.updated_at, b.resumed_at, b.rows_at_resume::text, b.finished_at`;

const toBackfill = (row: BackfillRow): Backfill => ({
  id: row.id,
  table: row.table_name,
  key: row.key,
  where: row.where,
  destinations: row.destinations,
  endKey: row.end_key,
  cursor: row.cursor,
  rowsDone: Number(row.rows_done),
  estimate: Number(row.estimate),
  chunkSize: row.chunk_size,
  state: row.state,
  error: row.error,
  actor: row.actor,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  resumedAt: row.resumed_at,
  rowsAtResume: Number(row.rows_at_resume),
  finishedAt: row.finished_at,
});

/** One backfill (the CLI reads it too). */
export async function getBackfill(sql: Sql, id: string): Promise<Backfill | undefined> {
  const [row] = await sql<BackfillRow>(`SELECT ${COLUMNS} FROM capture.backfills b WHERE b.id = $1`, [id]);
  return row && toBackfill(row);
}

/** Every statement on capture.backfills (the chunk itself is capture.backfill_chunk, in the Backfills migration). */
@Injectable()
export class BackfillRepository {
  private readonly sql: Sql;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.sql = poolSql(dataSource);
  }

  /** The table `schema.table`, as a regclass's text, if it exists. */
  async resolveTable(schema: string, table: string): Promise<string | undefined> {
    const [row] = await this.sql<{ relid: string | null }>(`SELECT to_regclass(format('%I.%I', $1::text, $2::text))::text AS relid`, [schema, table]);
    return row.relid ?? undefined;
  }

  /**
   * Starts a backfill of the table (capture.backfill_start checks it) for the sinks `destinations`
   * (ids; null: not aimed); the actor is who its reads name.
   */
  start(relid: string, where: Backfill['where'], destinations: string[] | null, actor: string | undefined): Promise<Backfill> {
    return inTransaction(this.dataSource, async (sql) => {
      if (actor) await sql(`SELECT set_config('rowcast.actor', $1, true)`, [actor]);
      const [row] = await sql<BackfillRow>(`SELECT ${COLUMNS} FROM capture.backfill_start($1::regclass, $2::jsonb, $3::uuid[]) b`, [
        relid,
        where === null ? null : JSON.stringify(where),
        destinations,
      ]);
      return toBackfill(row);
    });
  }

  /** The sinks that `references` name, by id or by name: each reference with the id it names, if any. */
  async sinks(references: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.sql<{ id: string; name: string }>(`SELECT id::text AS id, name FROM sinks WHERE id::text = ANY ($1) OR name = ANY ($1)`, [references]);
    const found = new Map<string, string>();
    for (const row of rows) {
      found.set(row.id, row.id);
      found.set(row.name, row.id);
    }
    return found;
  }

  /** The newest backfills first. */
  async list(limit: number): Promise<Backfill[]> {
    return (await this.sql<BackfillRow>(`SELECT ${COLUMNS} FROM capture.backfills b ORDER BY b.id DESC LIMIT $1`, [limit])).map(toBackfill);
  }

  get(id: string): Promise<Backfill | undefined> {
    return getBackfill(this.sql, id);
  }

  /**
   * Moves the backfill to `to` if it is in one of `from`; undefined if it is not (or does not
   * exist). A chunk under way locks the row only at its end, so this waits for no writer. A resume
   * restarts the rate's clock.
   */
  async transition(id: string, from: readonly BackfillState[], to: BackfillState, actor: string | undefined): Promise<Backfill | undefined> {
    return inTransaction(this.dataSource, async (sql) => {
      // Who cancelled it: the actor of its backfill_stopped event.
      if (actor) await sql(`SELECT set_config('rowcast.actor', $1, true)`, [actor]);
      const [row] = await sql<BackfillRow>(
        `UPDATE capture.backfills b
         SET state = $2, updated_at = now(),
             resumed_at = CASE WHEN $2 = 'running' THEN now() ELSE b.resumed_at END,
             rows_at_resume = CASE WHEN $2 = 'running' THEN b.rows_done ELSE b.rows_at_resume END,
             finished_at = CASE WHEN $2 IN ('cancelled', 'completed', 'failed') THEN now() ELSE b.finished_at END
         WHERE b.id = $1 AND b.state = ANY ($3::text[])
         RETURNING ${COLUMNS}`,
        [id, to, from],
      );
      return row && toBackfill(row);
    });
  }

  /**
   * The backfills under way (running or paused, the oldest `limit`) and the `finished` that
   * finished last, oldest first: what /metrics shows, so a finished one drops out in time.
   */
  async current(limit: number, finished: number): Promise<Backfill[]> {
    const rows = await this.sql<BackfillRow>(
      `(SELECT ${COLUMNS} FROM capture.backfills b WHERE b.state IN ('running', 'paused') ORDER BY b.id LIMIT $1)
       UNION ALL
       (SELECT ${COLUMNS} FROM capture.backfills b WHERE b.state NOT IN ('running', 'paused') ORDER BY b.finished_at DESC, b.id DESC LIMIT $2)`,
      [limit, finished],
    );
    return rows.map(toBackfill).sort((x, y) => Number(BigInt(x.id) - BigInt(y.id)));
  }

  /** The ids of the running backfills, oldest first. */
  async running(): Promise<string[]> {
    return (await this.sql<{ id: string }>(`SELECT id::text AS id FROM capture.backfills WHERE state = 'running' ORDER BY id`)).map((row) => row.id);
  }

  /** The chunk size the backfill last ran with (the runner adapts it from there). */
  async chunkSize(id: string): Promise<number | undefined> {
    const [row] = await this.sql<{ chunk_size: number }>(`SELECT chunk_size FROM capture.backfills WHERE id = $1`, [id]);
    return row?.chunk_size;
  }

  /** One chunk of at most `maxRows` rows, in its own transaction (one statement). */
  chunk(id: string, maxRows: number): Promise<ChunkResult | undefined> {
    return backfillChunk(this.sql, id, maxRows);
  }

  /** Marks a backfill failed with the reason (a chunk that threw, for a reason no retry mends). */
  async fail(id: string, error: string): Promise<void> {
    await this.sql(`UPDATE capture.backfills SET state = 'failed', error = $2, updated_at = now(), finished_at = now() WHERE id = $1 AND state = 'running'`, [id, error]);
  }
}
