import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors/domain-error.js';
import { poolSql, Sql } from '../database/sql.js';
import { NotificationLog } from '../log/notification-log.js';
import { eventMatches } from '../../client/src/filter.js';
import { EVENT_VERBS, qualifiedTable } from '../events/captured-change.event.js';
import { CapturedTableDto } from './dto/captured-table.dto.js';

/** Tables a request names that nothing is known of: a typo, most likely. */
export class UnknownTables extends DomainError {
  readonly kind = 'bad_request';
  constructor(tables: readonly string[]) {
    super(`${tables.length === 1 ? 'table' : 'tables'} ${tables.join(', ')} ${tables.length === 1 ? 'is' : 'are'} neither under capture nor in the log (npm run capture -- list shows what is captured)`);
  }
}

/** Event names or prefixes that no table under capture or in the log has: a typo, most likely. */
export class UnknownEvents extends DomainError {
  readonly kind = 'bad_request';
  constructor(events: readonly string[], tables: readonly string[]) {
    const known = tables.slice(0, 20).map((table) => `${table}.*`);
    super(
      `${events.length === 1 ? 'event' : 'events'} ${events.join(', ')} ${events.length === 1 ? 'matches' : 'match'} no event of a table ` +
        `under capture or in the log (events are <table>.<${EVENT_VERBS.join('|')}>; known: ${known.join(', ') || 'none yet'}` +
        `${tables.length > known.length ? `, and ${tables.length - known.length} more` : ''})`,
    );
  }
}

/** Under capture: changes as a table's alter it. Seconds a cached list is used for. */
const CAPTURED_TTL_MS = 5_000;
/** In the log: only grows (a table enabled since is in the captured list); one small table, read once a minute. */
const LOGGED_TTL_MS = 60_000;

/**
 * Which table names mean something to a reader: those under capture, and those the log holds
 * changes of (a table captured once, then disabled). Names as the log writes them: `invoices`,
 * `sales.orders`.
 */
@Injectable()
export class TableCatalog {
  private captured: { at: number; names: Promise<Set<string>> } | undefined;
  private logged: { at: number; names: Promise<Set<string>> } | undefined;

  private readonly sql: Sql;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly log: NotificationLog,
  ) {
    this.sql = poolSql(dataSource);
  }

  /** Every table under capture, as notifications name it now, with its options and what keeps its capture from being complete. */
  async list(): Promise<CapturedTableDto[]> {
    const rows = await this.sql<{
      schema_name: string;
      table_name: string;
      columns: string[] | null;
      key: string[] | null;
      keep_old: boolean;
      problems: string[];
    }>(
      `SELECT schema_name, table_name, columns, key, keep_old, problems FROM capture.tables ORDER BY schema_name, table_name`,
    );
    const lookups = await this.log.columnLookups();
    return rows.map((row) => ({
      table: qualifiedTable(row.schema_name, row.table_name),
      schema: row.schema_name,
      name: row.table_name,
      columns: row.columns,
      key: row.key,
      keepOld: row.keep_old,
      problems: row.problems,
      lookups: lookups.filter((lookup) => lookup.table === qualifiedTable(row.schema_name, row.table_name)).map((lookup) => lookup.column),
    }));
  }

  /** The ones of `tables` that are neither under capture nor in the log. */
  unknown(tables: readonly string[]): Promise<string[]> {
    return this.missing(tables, (table, known) => known.has(table));
  }

  /** The ones of `events` (names, or prefixes ending in `.*`) that no known table's events match. */
  unknownEvents(events: readonly string[]): Promise<string[]> {
    return this.missing(events, (pattern, known) =>
      [...known].some((table) => EVENT_VERBS.some((verb) => eventMatches(pattern, `${table}.${verb}`))),
    );
  }

  /** Throws UnknownTables or UnknownEvents naming the ones nothing is known of. */
  async check(tables: readonly string[] | undefined | null, events?: readonly string[] | null): Promise<void> {
    const unknown = await this.unknown(tables ?? []);
    if (unknown.length) throw new UnknownTables(unknown);
    const unknownEvents = await this.unknownEvents(events ?? []);
    if (unknownEvents.length) throw new UnknownEvents(unknownEvents, await this.knownTables());
  }

  /** Every table name a reader may use, sorted. */
  async knownTables(): Promise<string[]> {
    const [captured, logged] = await Promise.all([this.capturedNames(false), this.loggedNames()]);
    return [...new Set([...captured, ...logged])].sort();
  }

  /**
   * The names that `isKnown` finds in neither list. The captured list is cached for a few seconds,
   * so a name it misses is looked up again at once before it counts as unknown: a table enabled a
   * moment ago, on any instance, is known here too.
   */
  private async missing(names: readonly string[], isKnown: (name: string, tables: Set<string>) => boolean): Promise<string[]> {
    let rest = [...names];
    for (const read of [() => this.capturedNames(false), () => this.loggedNames(), () => this.capturedNames(true)]) {
      if (!rest.length) break;
      const known = await read();
      rest = rest.filter((name) => !isKnown(name, known));
    }
    return rest;
  }

  private capturedNames(fresh: boolean): Promise<Set<string>> {
    this.captured = this.fresh(fresh ? undefined : this.captured, CAPTURED_TTL_MS, async () => {
      const rows = await this.sql<{ name: string }>(`SELECT capture.qualified_name(schema_name, table_name) AS name FROM capture.tables`);
      return rows.map((row) => row.name);
    });
    return this.captured.names;
  }

  private loggedNames(): Promise<Set<string>> {
    this.logged = this.fresh(this.logged, LOGGED_TTL_MS, () => this.log.loggedTables());
    return this.logged.names;
  }

  private fresh(cached: { at: number; names: Promise<Set<string>> } | undefined, ttl: number, read: () => Promise<string[]>) {
    if (cached && Date.now() - cached.at < ttl) return cached;
    const names = read().then((list) => new Set(list));
    // A failed read is not kept: the next call asks again.
    names.catch(() => {
      if (this.captured?.names === names) this.captured = undefined;
      if (this.logged?.names === names) this.logged = undefined;
    });
    return { at: Date.now(), names };
  }
}
