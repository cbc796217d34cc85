import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { NotificationPayload } from '../../client/src/protocol.js';
import { CapturedChange } from '../events/captured-change.event.js';
import { NOTIFICATIONS_CHANNEL, StoredNotification, TransactionSql } from '../events/event-catalog.js';
import { JOURNAL_COLUMNS, JournalRow, parseJournalRow } from '../events/journal-row.js';
import { toNotificationPayload } from './notification.mapper.js';

/** Which notifications a read wants; every filter given must hold. */
export interface LogFilter {
  /** An event name, or a prefix ending in `.*`. */
  event?: string;
  tables?: readonly string[];
  entityId?: string;
}

/** Runs one statement: the pool's, or an open transaction's. */
type Query = <R>(text: string, values?: unknown[]) => Promise<R[]>;

/**
 * The one owner of the notification log's SQL: the drainer appends through it, REST, replays, the
 * live feed and retention read or trim it through it.
 *
 * Storage (migration OneWritePerChange): one row per drained batch in notification_batches, whose
 * ids are first_id … last_id, the n-th being change_ids[n], a journal row (capture.changes) that is
 * the change's one stored copy. Notifications written before that migration keep their rows in
 * notifications_legacy; all of their ids are below the first batch's. Ids never go backwards, not
 * even after retention emptied the log (notification_retention keeps the highest id it deleted).
 */
@Injectable()
export class NotificationLog {
  private readonly logger = new Logger(NotificationLog.name);
  private readonly query: Query;
  /** The highest legacy id: reads after it need not look at notifications_legacy. */
  private legacyEnd: Promise<bigint> | undefined;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.query = (text, values) => dataSource.query(text, values);
  }

  /**
   * Runs `source` (capture's next batch: journal rows in delivery order) and gives its rows the
   * next ids, in one statement: one round trip, and the batch is in the log exactly when the
   * source's own effects (the drain cursor) are. Every instance's feed hears of it at commit (one
   * NOTIFY per batch, never one per writer). Returns the rows taken and their notifications, for
   * this instance's feed.
   */
  async appendFrom(run: RunStatement, source: JournalSource): Promise<{ taken: number; notifications: StoredNotification[] }> {
    const rows = await run<JournalRow & { first_id: string; batch_created_at: Date }>(
      { name: `rowcast-append-${source.name}`, text: appendFrom(source.text) },
      source.values,
    );
    const notifications = rows.flatMap(
      (row, i) => this.fromJournal((BigInt(row.first_id) + BigInt(i)).toString(), row.batch_created_at, row) ?? [],
    );
    return { taken: rows.length, notifications };
  }

  /** The highest id given so far (0 for an empty log). */
  async lastId(query: Query = this.query): Promise<bigint> {
    const [row] = await query<{ id: string }>(`SELECT (${LAST_ID})::text AS id`);
    return BigInt(row.id);
  }

  /**
   * Up to `limit` notifications with ids above `after`, ascending, that pass `filter`: the legacy
   * rows first (all their ids are lower), then the batches, a window of them at a time. Each window
   * is an index range on notification_batches that covers a known number of ids, so a page costs
   * what it returns (plus what a filter skips), however long the log behind it.
   */
  async readAfter(after: bigint, limit: number, filter: LogFilter = {}, query: Query = this.query): Promise<StoredNotification[]> {
    const where = conditions(filter, [after.toString(), limit]);
    // The legacy rows never grow (nothing writes them since the migration): most reads skip them.
    this.legacyEnd ??= this.query<{ id: string }>(`SELECT coalesce(max(id), 0)::text AS id FROM notifications_legacy`).then(
      ([row]) => BigInt(row.id),
      (error: unknown) => {
        this.legacyEnd = undefined;
        throw error;
      },
    );
    const found = after >= (await this.legacyEnd) ? [] : this.toNotifications(
      await query<LogRow>(
        `SELECT n.id::text AS id, n.created_at, n.event AS legacy_event, n.table_name AS legacy_table, n.payload AS legacy_payload
         FROM notifications_legacy n
         WHERE n.id > $1 ${where.legacy}
         ORDER BY n.id LIMIT $2`,
        where.values,
      ),
    );
    let from = found.length ? BigInt(found[found.length - 1].id) : after;
    while (found.length < limit) {
      const need = limit - found.length;
      const window = await this.nextWindow(from, filter.event || filter.tables || filter.entityId !== undefined ? Math.max(need, WINDOW) : need, query);
      if (!window) break;
      // Only the slice of each batch's ids that falls in (from, upTo] is unnested and looked up:
      // a batch can hold many thousand ids (the upgrade's first one: every change pending then).
      const values = [from.toString(), need, window.upTo.toString(), window.lastBatch.toString(), ...where.values.slice(2)];
      const rows = await query<LogRow>(
        `SELECT (b.first_id + s.lo + u.ord - 2)::text AS id, b.created_at, ${JOURNAL_COLUMNS.replace('c.id::text AS id', 'c.id::text AS change_id')}
         FROM notification_batches b
         CROSS JOIN LATERAL (SELECT greatest(1, $1 - b.first_id + 2)::int AS lo, least(cardinality(b.change_ids), $3 - b.first_id + 1)::int AS hi) s
         CROSS JOIN LATERAL unnest(b.change_ids[s.lo:s.hi]) WITH ORDINALITY AS u(change_id, ord)
         -- One index lookup per id, always: OFFSET 0 keeps the planner from hashing the journal.
         CROSS JOIN LATERAL (SELECT * FROM capture.changes c WHERE c.id = u.change_id OFFSET 0) c
         WHERE b.last_id > $1 AND b.last_id <= $4 ${where.batches.replaceAll(/\$(\d+)/g, (_, n) => `$${Number(n) + 2}`)}
         ORDER BY b.last_id, u.ord LIMIT $2`,
        values,
      );
      found.push(...this.toNotifications(rows));
      from = window.upTo;
    }
    return found;
  }

  /**
   * The newest `limit` notifications that pass `filter`, ascending: spans of ids read backwards
   * from the log's end, each four times the last, so a rare match costs a few reads, not a scan.
   */
  async readLatest(limit: number, filter: LogFilter = {}): Promise<StoredNotification[]> {
    const floor = await this.purgedThrough();
    let end = await this.lastId();
    let span = BigInt(limit);
    let found: StoredNotification[] = [];
    while (found.length < limit && end > floor) {
      const start = end - span > floor ? end - span : floor;
      const page = await this.readAfter(start, Number(end - start), filter);
      found = [...page.filter((notification) => BigInt(notification.id) <= end), ...found];
      end = start;
      span *= 4n;
    }
    return found.slice(-limit);
  }

  /**
   * The ids after `from` to read next: up to `count` of them, ending at `upTo`, in batches up to
   * the one whose last id is `lastBatch` (reading batch bounds only); undefined when nothing
   * follows `from`.
   */
  async nextWindow(from: bigint, count: number, query: Query = this.query): Promise<{ upTo: bigint; lastBatch: bigint } | undefined> {
    // Ordered by the column, not by the text it is selected as: '10000' sorts before '2000'.
    const rows = await query<{ first_id: string; last_id: string }>(
      `SELECT b.first_id::text AS first_id, b.last_id::text AS last_id FROM notification_batches b
       WHERE b.last_id > $1 ORDER BY b.last_id LIMIT 64`,
      [from.toString()],
    );
    let left = BigInt(count);
    for (const row of rows) {
      const first = BigInt(row.first_id) > from ? BigInt(row.first_id) : from + 1n;
      const last = BigInt(row.last_id);
      if (last - first + 1n >= left) return { upTo: first + left - 1n, lastBatch: last };
      left -= last - first + 1n;
    }
    if (!rows.length) return undefined;
    const last = BigInt(rows[rows.length - 1].last_id);
    return { upTo: last, lastBatch: last };
  }

  /** One notification, or undefined; `tables` limits it to those tables. */
  async get(id: string, tables?: readonly string[]): Promise<StoredNotification | undefined> {
    const [legacy] = this.toNotifications(
      await this.query<LogRow>(
        `SELECT n.id::text AS id, n.created_at, n.event AS legacy_event, n.table_name AS legacy_table, n.payload AS legacy_payload
         FROM notifications_legacy n WHERE n.id = $1`,
        [id],
      ),
    );
    const found =
      legacy ??
      this.toNotifications(
        await this.query<LogRow>(
          `SELECT $1::text AS id, b.created_at, ${JOURNAL_COLUMNS.replace('c.id::text AS id', 'c.id::text AS change_id')}
           FROM (SELECT * FROM notification_batches WHERE last_id >= $1 ORDER BY last_id LIMIT 1) b
           JOIN capture.changes c ON c.id = b.change_ids[$1 - b.first_id + 1]
           WHERE b.first_id <= $1`,
          [id],
        ),
      )[0];
    return found && (!tables || tables.includes(found.tableName)) ? found : undefined;
  }

  /** The highest id retention has deleted: a resume from below it has lost notifications. */
  async purgedThrough(query: Query = this.query): Promise<bigint> {
    const [row] = await query<{ id: string }>(`SELECT purged_through::text AS id FROM notification_retention WHERE id = 1`);
    return BigInt(row?.id ?? 0);
  }

  /**
   * Deletes, oldest first, up to `max` batches (and legacy notifications) created before `cutoff`
   * ago, in the caller's transaction; records the highest id deleted. Returns the journal rows the
   * deleted batches referred to, for capture to delete with them, and how many notifications went.
   */
  async expire(sql: TransactionSql, cutoff: string, max: number): Promise<{ notifications: number; changeIds: string[] }> {
    const [row] = await sql<{ legacy: number; batches: number; change_ids: string[] }>(
      `WITH legacy AS (
         DELETE FROM notifications_legacy WHERE id IN (
           SELECT id FROM notifications_legacy WHERE created_at < now() - $1::interval ORDER BY id LIMIT $2)
         RETURNING id),
       batches AS (
         DELETE FROM notification_batches WHERE last_id IN (
           SELECT last_id FROM notification_batches WHERE created_at < now() - $1::interval ORDER BY last_id LIMIT $2)
         RETURNING last_id, change_ids),
       mark AS (
         UPDATE notification_retention
         SET purged_through = greatest(purged_through, (SELECT max(id) FROM legacy), (SELECT max(last_id) FROM batches))
         WHERE id = 1 AND (EXISTS (SELECT 1 FROM legacy) OR EXISTS (SELECT 1 FROM batches)))
       SELECT (SELECT count(*)::int FROM legacy) AS legacy,
              (SELECT coalesce(sum(cardinality(change_ids)), 0)::int FROM batches) AS batches,
              (SELECT coalesce(array_agg(x::text), '{}') FROM batches, unnest(change_ids) x) AS change_ids`,
      [cutoff, max],
    );
    return { notifications: row.legacy + row.batches, changeIds: row.change_ids };
  }

  private toNotifications(rows: LogRow[]): StoredNotification[] {
    const notifications: StoredNotification[] = [];
    for (const row of rows) {
      if (row.legacy_payload) {
        notifications.push({
          id: row.id,
          event: row.legacy_event!,
          tableName: row.legacy_table!,
          createdAt: row.created_at,
          payload: row.legacy_payload,
        });
        continue;
      }
      const notification = this.fromJournal(row.id, row.created_at, { ...row, id: row.change_id! });
      if (notification) notifications.push(notification);
    }
    return notifications;
  }

  /**
   * A journal row as the notification `id`. take_batch drops rows of the wrong shape, so a row the
   * parser refuses is a type take_batch does not check, or a hand edit of the journal: left out.
   */
  private fromJournal(id: string, createdAt: Date, row: JournalRow): StoredNotification | undefined {
    const parsed = parseJournalRow(row);
    if ('change' in parsed) return toNotification(id, createdAt, parsed.change);
    this.logger.warn(`notification ${id}: journal row ${row.id} ${parsed.skip}; left out`);
    return undefined;
  }
}

/** Ids a filtered read looks at per round trip (at least a page's worth). */
const WINDOW = 5_000;

/** The highest id given or deleted so far. */
const LAST_ID = `greatest((SELECT max(last_id) FROM notification_batches), (SELECT max(id) FROM notifications_legacy),
  (SELECT purged_through FROM notification_retention WHERE id = 1), 0)`;

/** A statement whose rows are journal rows (capture.changes) in delivery order. */
export interface JournalSource {
  name: string;
  text: string;
  values: unknown[];
}

/** Runs one statement on the caller's connection (prepared under its name). */
export type RunStatement = <R>(statement: { name: string; text: string }, values: unknown[]) => Promise<R[]>;

/** The source's rows, in order, with the batch they became; a batch's ids follow the last one given. */
function appendFrom(source: string): string {
  return `
    WITH taken AS (SELECT s.*, row_number() OVER () AS ord FROM (${source}) s),
    batch AS (
      INSERT INTO notification_batches (first_id, last_id, change_ids)
      SELECT n.next, n.next + t.count - 1, t.ids
      FROM (SELECT count(*) AS count, array_agg(id ORDER BY ord) AS ids FROM taken) t, (SELECT (${LAST_ID}) + 1 AS next) n
      WHERE t.count > 0
      RETURNING first_id, created_at, pg_notify('${NOTIFICATIONS_CHANNEL}', last_id::text))
    SELECT ${JOURNAL_COLUMNS.replaceAll('c.', 't.')}, b.first_id::text AS first_id, b.created_at AS batch_created_at
    FROM taken t, batch b
    ORDER BY t.ord`;
}

interface LogRow extends Omit<JournalRow, 'id'> {
  id: string;
  created_at: Date;
  legacy_event: string | null;
  legacy_table: string | null;
  /** Written by the service before OneWritePerChange, in the API's shape. */
  legacy_payload: NotificationPayload | null;
  change_id: string | null;
}

function toNotification(id: string, createdAt: Date, change: CapturedChange): StoredNotification {
  return {
    id,
    event: change.event,
    tableName: change.qualifiedTable,
    createdAt,
    payload: toNotificationPayload(change),
  };
}

/** The filter as SQL for each part of the log: legacy rows by their columns, batches by the journal's. */
function conditions(filter: LogFilter, values: unknown[]): { legacy: string; batches: string; values: unknown[] } {
  const legacy: string[] = [];
  const batches: string[] = [];
  const add = (legacyColumn: string, journalExpression: string, operator: string, value: unknown) => {
    values.push(value);
    legacy.push(`AND ${legacyColumn} ${operator.replace('?', `$${values.length}`)}`);
    batches.push(`AND ${journalExpression} ${operator.replace('?', `$${values.length}`)}`);
  };
  const event = 'capture.event_name(c.schema_name, c.table_name, c.op)';
  if (filter.event?.endsWith('.*')) add('n.event', event, 'LIKE ?', `${escapeLike(filter.event.slice(0, -1))}%`);
  else if (filter.event) add('n.event', event, '= ?', filter.event);
  if (filter.tables) add('n.table_name', 'capture.qualified_name(c.schema_name, c.table_name)', '= ANY(?)', filter.tables);
  if (filter.entityId !== undefined) add('n.entity_id', 'capture.entity_id(c.row_pk)', '= ?', filter.entityId);
  return { legacy: legacy.join(' '), batches: batches.join(' '), values };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
