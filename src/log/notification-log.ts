import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { poolSql, Sql } from '../database/sql.js';
import { CapturedChange } from '../events/captured-change.event.js';
import { StoredNotification } from '../events/event-catalog.js';
import { NOTIFICATIONS_CHANNEL } from './channels.js';
import { JournalRow, parseJournalRow } from './journal-row.js';
import { filters, LogFilter } from './log-filter.js';
import { toNotificationPayload } from './notification.mapper.js';
import { appendBatch } from './sql/append-batch.js';
import { batchBoundsAfter } from './sql/batch-bounds-after.js';
import { getBatchedNotification, getLegacyNotification } from './sql/get-notification.js';
import { lastId } from './sql/last-id.js';
import { legacyEnd } from './sql/legacy-end.js';
import { loggedTables } from './sql/logged-tables.js';
import { purgedThrough } from './sql/purged-through.js';
import { BatchedRow, readBatchesAfter } from './sql/read-batches-after.js';
import { LegacyRow, readLegacyAfter } from './sql/read-legacy-after.js';

export type { LogFilter } from './log-filter.js';

/** Ids a filtered read looks at per round trip (at least a page's worth). */
const WINDOW = 5_000;

/**
 * The notification log as its readers and its one writer (the drainer) see it: notifications, not
 * rows. Its statements are in ./sql/, one function each.
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
  private readonly sql: Sql;
  /** The highest legacy id: reads after it need not look at notifications_legacy. */
  private legacyEnd: Promise<bigint> | undefined;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.sql = poolSql(dataSource);
  }

  /**
   * Takes the journal's next batch (at most `limits.rows` rows, `limits.bytes` of old + new) and
   * gives its rows the next ids, in one statement on `sql` (the drainer's connection). Returns the
   * rows taken and their notifications, for this instance's tail.
   */
  async append(sql: Sql, limits: { rows: number; bytes: number }): Promise<{ taken: number; notifications: StoredNotification[] }> {
    const rows = await appendBatch(sql, limits, NOTIFICATIONS_CHANNEL);
    const notifications = rows.flatMap(
      (row, i) => this.fromJournal((BigInt(row.first_id) + BigInt(i)).toString(), row.batch_created_at, row) ?? [],
    );
    return { taken: rows.length, notifications };
  }

  /** The highest id given so far (0 for an empty log). */
  lastId(sql: Sql = this.sql): Promise<bigint> {
    return lastId(sql);
  }

  /**
   * Up to `limit` notifications with ids above `after`, ascending, that pass `filter`: the legacy
   * rows first (all their ids are lower), then the batches, a window of them at a time. Each window
   * is an index range on notification_batches that covers a known number of ids, so a page costs
   * what it returns (plus what a filter skips), however long the log behind it.
   */
  async readAfter(after: bigint, limit: number, filter: LogFilter = {}, sql: Sql = this.sql): Promise<StoredNotification[]> {
    // The legacy rows never grow (nothing writes them since the migration): most reads skip them.
    this.legacyEnd ??= legacyEnd(this.sql).catch((error: unknown) => {
      this.legacyEnd = undefined;
      throw error;
    });
    const found = after >= (await this.legacyEnd) ? [] : (await readLegacyAfter(sql, after, limit, filter)).map(fromLegacy);
    let from = found.length ? BigInt(found[found.length - 1].id) : after;
    while (found.length < limit) {
      const need = limit - found.length;
      const window = await this.nextWindow(from, filters(filter) ? Math.max(need, WINDOW) : need, sql);
      if (!window) break;
      const rows = await readBatchesAfter(sql, { after: from, ...window }, need, filter);
      found.push(...rows.flatMap((row) => this.fromBatch(row) ?? []));
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
  async nextWindow(from: bigint, count: number, sql: Sql = this.sql): Promise<{ upTo: bigint; lastBatch: bigint } | undefined> {
    const batches = await batchBoundsAfter(sql, from);
    let left = BigInt(count);
    for (const batch of batches) {
      const first = batch.first > from ? batch.first : from + 1n;
      if (batch.last - first + 1n >= left) return { upTo: first + left - 1n, lastBatch: batch.last };
      left -= batch.last - first + 1n;
    }
    if (!batches.length) return undefined;
    const last = batches[batches.length - 1].last;
    return { upTo: last, lastBatch: last };
  }

  /** One notification, or undefined; `tables` limits it to those tables. */
  async get(id: string, tables?: readonly string[]): Promise<StoredNotification | undefined> {
    const legacy = await getLegacyNotification(this.sql, id);
    const found = legacy ? fromLegacy(legacy) : await getBatchedNotification(this.sql, id).then((row) => row && this.fromBatch(row));
    return found && (!tables || tables.includes(found.tableName)) ? found : undefined;
  }

  /** The highest id retention has deleted: a resume from below it has lost notifications. */
  purgedThrough(sql: Sql = this.sql): Promise<bigint> {
    return purgedThrough(sql);
  }

  /** Every table the log holds changes of, as notifications name it. */
  loggedTables(): Promise<string[]> {
    return loggedTables(this.sql);
  }

  private fromBatch(row: BatchedRow): StoredNotification | undefined {
    return this.fromJournal(row.id, row.created_at, { ...row, id: row.change_id });
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

/** Written by the service before OneWritePerChange, in the API's shape. */
function fromLegacy(row: LegacyRow): StoredNotification {
  return { id: row.id, event: row.event, tableName: row.table_name, createdAt: row.created_at, payload: row.payload };
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
