import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { poolSql, Sql } from '../database/sql.js';
import { CapturedChange } from '../events/captured-change.event.js';
import { StoredNotification } from '../events/event-catalog.js';
import { EVENT_VERBS } from '../events/captured-change.event.js';
import { eventMatches } from '../../client/src/filter.js';
import { NOTIFICATIONS_CHANNEL } from './channels.js';
import { PositionAhead, PositionUnavailable } from './log.errors.js';
import { JournalRow, parseJournalRow } from './journal-row.js';
import { filters, LogFilter } from './log-filter.js';
import { findKeyed } from './sql/find-keyed.js';
import { columnLookups, Lookup, lookups } from './sql/lookups.js';
import { readIds } from './sql/read-ids.js';
import { toNotificationPayload } from './notification.mapper.js';
import { appendBatch } from './sql/append-batch.js';
import { batchBoundsAfter } from './sql/batch-bounds-after.js';
import { getBatchedNotification, getLegacyNotification } from './sql/get-notification.js';
import { lastId } from './sql/last-id.js';
import { lastIdAt } from './sql/last-id-at.js';
import { legacyEnd } from './sql/legacy-end.js';
import { loggedTables } from './sql/logged-tables.js';
import { purgedThrough } from './sql/purged-through.js';
import { TransactionExtent, transactionOf } from './sql/transaction-of.js';
import { BatchedRow, readBatchesAfter } from './sql/read-batches-after.js';
import { LegacyRow, readLegacyAfter } from './sql/read-legacy-after.js';

export type { LogFilter } from './log-filter.js';
export type { BatchedRow } from './sql/read-batches-after.js';

/** Ids a filtered read looks at per round trip (at least a page's worth). */
const WINDOW = 5_000;
/** A filter that needs more keys than this (events of very many tables) scans instead. */
const MAX_KEYS = 1_000;

/** How the log's index answers a filter (NotificationLog.plan). */
interface LookupPlan {
  /** What to look up: the parts notification_key hashes. */
  keys: unknown[][];
  /** Every notification in (coveredAfter, indexedThrough] is indexed for these keys; outside, the scan reads. */
  coveredAfter: bigint;
  indexedThrough: bigint;
}

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
    if (!rows.length) return { taken: 0, notifications: [] };
    const [{ first_id: first, batch_created_at: createdAt }] = rows;
    const ids = batchIds(BigInt(first!), rows.length);
    const notifications = rows.flatMap((row, i) => this.fromJournal(ids(i), createdAt!, row) ?? []);
    return { taken: rows.length, notifications };
  }

  /** The highest id given so far (0 for an empty log). */
  lastId(sql: Sql = this.sql): Promise<bigint> {
    return lastId(sql);
  }

  /**
   * Up to `limit` notifications with ids above `after`, ascending, that pass `filter`. A filter the
   * log's index can answer (see plan) reads the index where it covers the log and scans outside;
   * any other read scans: the legacy rows first (all their ids are lower), then the batches, a window of them
   * at a time. Each window is an index range on notification_batches that covers a known number of
   * ids, so a page costs what it returns plus what a filter skips, however long the log behind it.
   */
  async readAfter(after: bigint, limit: number, filter: LogFilter = {}, sql: Sql = this.sql): Promise<StoredNotification[]> {
    const plan = filters(filter) ? await this.plan(filter, sql) : undefined;
    if (!plan) return this.scan(after, undefined, limit, filter, sql);
    // Below what the index covers, then the index, then the newest batches it has not reached.
    const found = await this.scan(after, plan.coveredAfter, limit, filter, sql);
    if (found.length < limit && after < plan.indexedThrough) {
      const from = after > plan.coveredAfter ? after : plan.coveredAfter;
      found.push(...(await this.lookUp(plan, { after: from, before: plan.indexedThrough + 1n, limit: limit - found.length, descending: false }, filter, sql)));
    }
    if (found.length < limit) {
      found.push(...(await this.scan(after > plan.indexedThrough ? after : plan.indexedThrough, undefined, limit - found.length, filter, sql)));
    }
    return found;
  }

  /**
   * Every notification with an id in (after, end], ascending, where `end` is a batch's last id (a
   * drainer's NOTIFY names it): one statement, for the live tail.
   */
  async readThrough(after: bigint, end: bigint, sql: Sql = this.sql): Promise<StoredNotification[]> {
    const rows = await readBatchesAfter(sql, { after, upTo: end, lastBatch: end }, Number(end - after), {});
    return rows.flatMap((row) => this.fromBatch(row) ?? []);
  }

  /**
   * The newest `limit` notifications that pass `filter`, ascending: from the index where it covers
   * them (see plan), and below that (or for a filter it cannot answer) from spans of ids read
   * backwards from the log's end, each four times the last, so a rare match costs a few reads.
   */
  async readLatest(limit: number, filter: LogFilter = {}, sql: Sql = this.sql): Promise<StoredNotification[]> {
    const floor = await this.purgedThrough(sql);
    let end = await this.lastId(sql);
    const plan = filters(filter) ? await this.plan(filter, sql) : undefined;
    let found: StoredNotification[] = [];
    if (plan && end > plan.coveredAfter) {
      // The newest batches the index has not reached, then the index, then below it.
      const indexed = plan.indexedThrough < end ? plan.indexedThrough : end;
      found = await this.latestByScan(limit, filter, indexed, end, sql);
      if (found.length < limit) {
        const page = await this.lookUp(plan, { after: plan.coveredAfter, before: indexed + 1n, limit: limit - found.length, descending: true }, filter, sql);
        found = [...page, ...found];
      }
      end = plan.coveredAfter;
    }
    if (found.length < limit) found = [...(await this.latestByScan(limit - found.length, filter, floor, end, sql)), ...found];
    return found;
  }

  /**
   * The newest `limit` notifications with ids in (low, high] that pass `filter`, ascending, by
   * scanning spans of ids backwards from `high`, each four times the last, so a rare match costs a
   * few reads.
   */
  private async latestByScan(limit: number, filter: LogFilter, low: bigint, high: bigint, sql: Sql): Promise<StoredNotification[]> {
    let found: StoredNotification[] = [];
    let end = high;
    let span = BigInt(limit);
    while (found.length < limit && end > low) {
      const start = end - span > low ? end - span : low;
      found = [...(await this.scan(start, end, Number(end - start), filter, sql)), ...found];
      end = start;
      span *= 4n;
    }
    return found.slice(-limit);
  }

  /**
   * How the index answers `filter`, if it can: the keys to look up, and the id above which every
   * notification is indexed for them. By what a
   * filter gives, most selective first: the row (entityId), a column value (`where`, on every table
   * of `tables` when each has that column indexed), the actor, the events (`event`, `tables`).
   */
  private async plan(filter: LogFilter, sql: Sql): Promise<LookupPlan | undefined> {
    const indexed = await lookups(sql);
    const find = (table: string | null, column: string | null) => indexed.find((lookup) => lookup.table === table && lookup.column === column);
    const builtIn = find(null, null);
    /** What every one of `used` covers: the latest start and the earliest end. */
    const plan = (keys: unknown[][], used: (Lookup | undefined)[]): LookupPlan | undefined => {
      if (keys.length === 0 || keys.length > MAX_KEYS) return undefined;
      let coveredAfter = 0n;
      let indexedThrough: bigint | undefined;
      for (const lookup of used) {
        if (lookup?.coveredAfter === undefined || lookup.indexedThrough === undefined) return undefined;
        if (lookup.coveredAfter > coveredAfter) coveredAfter = lookup.coveredAfter;
        if (indexedThrough === undefined || lookup.indexedThrough < indexedThrough) indexedThrough = lookup.indexedThrough;
      }
      return indexedThrough !== undefined && indexedThrough > coveredAfter ? { keys, coveredAfter, indexedThrough } : undefined;
    };
    if (filter.entityId !== undefined) {
      const tables = filter.tables ?? (await this.loggedTables());
      return plan(tables.map((table) => ['row', table, filter.entityId]), [builtIn]);
    }
    const where = Object.entries(filter.where ?? {});
    const column = filter.tables && where.find(([name]) => filter.tables!.every((table) => find(table, name)));
    if (filter.tables && column) {
      const [name, value] = column;
      const keys = filter.tables.flatMap((table) => [['column', table, name, value], ['rows', table]]);
      return plan(keys, [builtIn, ...filter.tables.map((table) => find(table, name))]);
    }
    if (filter.actor !== undefined) return plan([['actor', filter.actor]], [builtIn]);
    if (!filter.event && !filter.tables) return undefined;
    const tables = filter.tables ?? (await this.loggedTables());
    const events = tables
      .flatMap((table) => EVENT_VERBS.map((verb) => `${table}.${verb}`))
      .filter((event) => !filter.event || eventMatches(filter.event, event));
    return plan(events.map((event) => ['event', event]), [builtIn]);
  }

  /**
   * Up to `limit` notifications that pass `filter`, with ids in (after, before), from the index
   * (`plan`): the nearest to `after`, or (`descending`) to `before`; ascending.
   */
  private async lookUp(
    plan: LookupPlan,
    range: { after: bigint; before: bigint; limit: number; descending: boolean },
    filter: LogFilter,
    sql: Sql,
  ): Promise<StoredNotification[]> {
    const { descending } = range;
    let { after, before } = range;
    let found: StoredNotification[] = [];
    while (found.length < range.limit && before - after > 1n) {
      const need = range.limit - found.length;
      const hits = await findKeyed(sql, plan.keys, { after, upTo: before - 1n, limit: need, descending });
      if (!hits.length) break;
      // Each hit is checked against the whole filter (a key's hash may collide; other filters apply).
      const page = (await readIds(sql, hits, filter)).flatMap((row) => this.fromBatch(row) ?? []);
      if (descending) {
        found = [...page, ...found];
        before = hits[hits.length - 1];
      } else {
        found.push(...page);
        after = hits[hits.length - 1];
      }
    }
    return found;
  }

  /**
   * Up to `limit` notifications with ids in (after, upTo] (no upper bound when `upTo` is
   * undefined) that pass `filter`, ascending, read by a scan: the legacy rows, then windows of
   * batches.
   */
  private async scan(after: bigint, upTo: bigint | undefined, limit: number, filter: LogFilter, sql: Sql): Promise<StoredNotification[]> {
    const found = after >= (await this.legacyEndId()) ? [] : (await readLegacyAfter(sql, after, limit, filter)).map(fromLegacy);
    let from = found.length ? BigInt(found[found.length - 1].id) : after;
    while (found.length < limit && (upTo === undefined || from < upTo)) {
      const need = limit - found.length;
      const next = await this.nextWindow(from, filters(filter) ? Math.max(need, WINDOW) : need, sql);
      if (!next) break;
      const window = upTo !== undefined && next.upTo > upTo ? { ...next, upTo } : next;
      const rows = await readBatchesAfter(sql, { after: from, ...window }, need, filter);
      found.push(...rows.flatMap((row) => this.fromBatch(row) ?? []));
      from = window.upTo;
    }
    return upTo === undefined ? found : found.filter((notification) => BigInt(notification.id) <= upTo);
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

  /**
   * Where a reader that asks to start `from` starts: `now` (the newest notification), `start` (the
   * oldest retention kept) or after a notification id, which must be neither ahead of the log nor
   * behind what retention deleted (field: the request's name for it, for the message).
   */
  async startPosition(from = 'now', field = 'from'): Promise<bigint> {
    if (from === 'now') return this.lastId();
    const purged = await this.purgedThrough();
    if (from === 'start') return purged;
    const cursor = BigInt(from);
    const last = await this.lastId();
    if (cursor > last) throw new PositionAhead(`${field} ${from} is after the newest notification (${last})`);
    if (cursor < purged) throw new PositionUnavailable(`notifications up to ${purged} were deleted by retention; ${field} must be at least ${purged}`);
    return cursor;
  }

  /** The notifications `ids` (ascending; those the log no longer has, or never had, left out). */
  async getMany(ids: readonly bigint[], sql: Sql = this.sql): Promise<StoredNotification[]> {
    if (!ids.length) return [];
    const found = (await readIds(sql, ids, {})).flatMap((row) => this.fromBatch(row) ?? []);
    if (found.length === ids.length) return found;
    // Legacy notifications (below every batch), one by one: only an upgraded log has them.
    const batched = new Set(found.map((notification) => notification.id));
    const legacyEnd = await this.legacyEndId();
    for (const id of ids) {
      if (id > legacyEnd || batched.has(id.toString())) continue;
      const legacy = await getLegacyNotification(sql, id.toString());
      if (legacy) found.push(fromLegacy(legacy));
    }
    return found.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  /**
   * Notifications from rows a statement selected as the log's readers do (BatchedRow: a batch's
   * notification with its journal row), e.g. with the leases a consumer group's receive gave out;
   * a row the journal parser refuses is left out (and logged).
   */
  fromRows(rows: readonly BatchedRow[]): StoredNotification[] {
    return rows.flatMap((row) => this.fromBatch(row) ?? []);
  }

  /** The newest notification appended at or before `at` (0 when none that old is left): a seek to a time. */
  lastIdAt(at: Date, sql: Sql = this.sql): Promise<bigint> {
    return lastIdAt(sql, at);
  }

  /** Where the transaction of notification `id` starts and whether it ends there (see transactionOf); undefined for a legacy or deleted id. */
  transactionOf(id: bigint, sql: Sql = this.sql): Promise<TransactionExtent | undefined> {
    return transactionOf(sql, id);
  }

  /** The highest id retention has deleted: a resume from below it has lost notifications. */
  purgedThrough(sql: Sql = this.sql): Promise<bigint> {
    return purgedThrough(sql);
  }

  /** The columns users chose to look rows up by (capture -- lookup), with whether each covers the whole log yet. */
  columnLookups(): Promise<{ table: string; column: string; complete: boolean }[]> {
    return columnLookups(this.sql);
  }

  /** Every table the log holds changes of, as notifications name it. */
  loggedTables(): Promise<string[]> {
    return loggedTables(this.sql);
  }

  /** The highest legacy id. The legacy rows never grow (nothing writes them since the migration): most reads skip them. */
  private legacyEndId(): Promise<bigint> {
    this.legacyEnd ??= legacyEnd(this.sql).catch((error: unknown) => {
      this.legacyEnd = undefined;
      throw error;
    });
    return this.legacyEnd;
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

/** The i-th id of a batch of `count` from `first`, as text: by number arithmetic while the ids are safe integers (always, in practice), which costs a read nothing. */
function batchIds(first: bigint, count: number): (i: number) => string {
  if (first + BigInt(count) <= BigInt(Number.MAX_SAFE_INTEGER)) {
    const base = Number(first);
    return (i) => String(base + i);
  }
  return (i) => (first + BigInt(i)).toString();
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
