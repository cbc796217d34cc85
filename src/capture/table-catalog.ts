import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DomainError } from '../common/errors/domain-error.js';
import { poolSql, Sql } from '../database/sql.js';
import { NotificationLog } from '../log/notification-log.js';
import { CapturedTableDto } from './dto/captured-table.dto.js';

/** Tables a request names that nothing is known of: a typo, most likely. */
export class UnknownTables extends DomainError {
  readonly kind = 'bad_request';
  constructor(tables: readonly string[]) {
    super(`${tables.length === 1 ? 'table' : 'tables'} ${tables.join(', ')} ${tables.length === 1 ? 'is' : 'are'} neither under capture nor in the log (npm run capture -- list shows what is captured)`);
  }
}

/** Under capture: changes as a table's alter it. Seconds a cached list is used for. */
const CAPTURED_TTL_MS = 5_000;
/** In the log: only grows, and reading it scans the journal. */
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

  /** Every table under capture, as notifications name it, with its column filter. */
  async list(): Promise<CapturedTableDto[]> {
    const rows = await this.sql<{ schema_name: string; table_name: string; columns: string[] | null }>(
      `SELECT schema_name, table_name, columns FROM capture.tables ORDER BY schema_name, table_name`,
    );
    return rows.map((row) => ({
      table: row.schema_name === 'public' ? row.table_name : `${row.schema_name}.${row.table_name}`,
      schema: row.schema_name,
      name: row.table_name,
      columns: row.columns,
    }));
  }

  /** The ones of `tables` that are neither under capture nor in the log. */
  async unknown(tables: readonly string[]): Promise<string[]> {
    if (!tables.length) return [];
    this.captured = this.fresh(this.captured, CAPTURED_TTL_MS, async () => {
      const rows = await this.sql<{ name: string }>(`SELECT capture.qualified_name(schema_name, table_name) AS name FROM capture.tables`);
      return rows.map((row) => row.name);
    });
    const captured = await this.captured.names;
    const rest = tables.filter((table) => !captured.has(table));
    if (!rest.length) return [];
    this.logged = this.fresh(this.logged, LOGGED_TTL_MS, () => this.log.loggedTables());
    const logged = await this.logged.names;
    return rest.filter((table) => !logged.has(table));
  }

  /** Throws UnknownTables naming the ones of `tables` nothing is known of. */
  async check(tables: readonly string[] | undefined | null): Promise<void> {
    const unknown = await this.unknown(tables ?? []);
    if (unknown.length) throw new UnknownTables(unknown);
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
