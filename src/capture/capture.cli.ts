/**
 * `npm run capture -- enable <table> [--columns a,b] [--no-old] [--backfill] | disable <table> | lookup <table> <column> [--drop]
 * | backfill <table> [--where column=value …] | list`
 * Puts tables under capture (or takes them out) on DATABASE_URL, or on the embedded database.
 */
import pg from 'pg';
import { isMain, runCli } from '../database/cli.js';
import { clientSql, Sql } from '../database/sql.js';
import { COLUMN_PATTERN } from '../../client/src/protocol.js';
import { addLookup, columnLookups, dropLookup } from '../log/sql/lookups.js';
import type { Backfill } from '../backfills/backfill.js';
import { progressLine, startBackfill, waitForBackfill } from '../backfills/backfill-progress.js';

const USAGE = `usage: npm run capture -- <command>
  enable <table> [--columns a,b | --all-columns] [--no-old | --old] [--backfill]
                                   capture every change of <table> (schema.table; public by default), or
                                   re-arm it (its triggers recreated and enabled); options not given
                                   stay as they are (new tables: every column, old rows kept);
                                   with --columns, updates that change none of them are not captured;
                                   with --no-old, updates and deletions do not carry the old row;
                                   with --backfill, also start a backfill of the rows it holds (in the
                                   same transaction) and wait for it, as backfill does
  disable <table>                  stop capturing <table>
  lookup <table> <column> [--drop] index the log by <column>'s value in <table>'s rows, so that
                                   GET /notifications?table=<table>&where=<column>:<value> reads
                                   the index, not the log (the notifications already in the log are
                                   indexed in the background); --drop: stop
  backfill <table> [--where column=value …]
                                   read every row <table> holds now into the log, once, as <table>.read
                                   (in the log's commit order, whatever writers do meanwhile); waits,
                                   showing progress, until it completes (the app's runner may share
                                   the work; Ctrl-C stops waiting, and the app's runner goes on);
                                   --where (repeatable): only rows with these values (compared as text)
  list                             the tables under capture: key, column filter, old rows, lookups, problems`;

type Command =
  | { name: 'list' }
  /** null: as the table has it. An empty list of columns: every column. */
  | { name: 'enable'; table: string; columns: string[] | null; keepOld: boolean | null; backfill: boolean }
  | { name: 'disable'; table: string }
  /** where: null for every row. */
  | { name: 'backfill'; table: string; where: Backfill['where'] }
  | { name: 'lookup'; table: string; column: string; drop: boolean };

export function parseArgs(args: string[]): Command | string {
  const [name, table, ...rest] = args;
  if (name === 'list' && args.length === 1) return { name };
  if (name === 'lookup' && table && !table.startsWith('-')) {
    const [column, ...options] = rest;
    if (!column || !COLUMN_PATTERN.test(column)) return 'give the column to look rows up by: lookup <table> <column> [--drop]';
    if (options.some((option) => option !== '--drop')) return `unexpected ${options.filter((option) => option !== '--drop').join(' ')}`;
    return { name, table, column, drop: options.includes('--drop') };
  }
  if (name === 'backfill' && table && !table.startsWith('-')) return parseBackfill(table, rest);
  if ((name === 'enable' || name === 'disable') && table && !table.startsWith('-')) {
    if (name === 'disable') return rest.length ? `unexpected ${rest.join(' ')}` : { name, table };
    const command: Command = { name, table, columns: null, keepOld: null, backfill: false };
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--no-old' || rest[i] === '--old') command.keepOld = rest[i] === '--old';
      else if (rest[i] === '--all-columns') command.columns = [];
      else if (rest[i] === '--backfill') command.backfill = true;
      else if (rest[i] === '--columns') {
        const columns = (rest[++i] ?? '').split(',').map((column) => column.trim());
        if (!columns.every(Boolean)) return 'give the column filter as --columns a,b';
        command.columns = columns;
      } else return `unexpected ${rest[i]} (${USAGE.split('\n')[1].trim()})`;
    }
    return command;
  }
  return USAGE;
}

/** `backfill <table> [--where column=value …]`: the where as POST /backfills takes it, values as text. */
function parseBackfill(table: string, options: string[]): Command | string {
  const where: Record<string, string> = {};
  for (let i = 0; i < options.length; i++) {
    if (options[i] !== '--where') return `unexpected ${options[i]}`;
    const [, column, value] = /^([^=]*)=(.*)$/s.exec(options[++i] ?? '') ?? [];
    if (column === undefined || !COLUMN_PATTERN.test(column)) return 'give each row filter as --where column=value';
    if (column in where) return `--where names ${column} twice`;
    where[column] = value;
  }
  return { name: 'backfill', table, where: Object.keys(where).length ? where : null };
}

/**
 * Starts (or with --drop, ends) indexing the log by a column of a table, named as the log names it.
 * The table must be captured and have the column now; a dropped lookup's entries go with retention.
 */
async function lookup(command: { table: string; column: string; drop: boolean }, sql: Sql): Promise<string> {
  const [table] = await sql<{ name: string; has_column: boolean }>(
    `SELECT capture.qualified_name(k.shape ->> 'schema', k.shape ->> 'table') AS name,
            EXISTS (SELECT 1 FROM jsonb_array_elements(k.shape -> 'columns') c WHERE c ->> 'name' = $2) AS has_column
     FROM capture.captured k WHERE k.relid = $1::regclass`,
    [command.table, command.column],
  );
  if (!table) throw new Error(`${command.table} is not under capture`);
  if (command.drop) {
    return (await dropLookup(sql, table.name, command.column)) ? `no longer indexing ${table.name} by ${command.column}` : `${table.name} was not indexed by ${command.column}`;
  }
  if (!table.has_column) throw new Error(`${table.name} has no column ${command.column}`);
  return (await addLookup(sql, table.name, command.column))
    ? `indexing ${table.name} by ${command.column}: new notifications at once, those already in the log in the background`
    : `${table.name} is indexed by ${command.column} already`;
}

/** Waits for a backfill: one progress line redrawn on a terminal, a line a second otherwise (stderr). */
async function waitShowing(id: string, sql: Sql): Promise<string> {
  const terminal = process.stderr.isTTY;
  let printedAt = 0;
  let drawn = false;
  try {
    return await waitForBackfill(sql, id, (progress) => {
      if (terminal) {
        process.stderr.write(`\r${progressLine(progress)}\x1b[K`);
        drawn = true;
      } else if (Date.now() - printedAt >= 1000 || progress.state !== 'running') {
        process.stderr.write(`${progressLine(progress)}\n`);
        printedAt = Date.now();
      }
    });
  } finally {
    if (drawn) process.stderr.write('\n');
  }
}

async function run(command: Command, sql: Sql): Promise<string> {
  switch (command.name) {
    case 'enable': {
      const [{ backfill }] = await sql<{ backfill: string | null }>('SELECT capture.enable($1::regclass, $2::text[], $3, backfill => $4)::text AS backfill', [
        command.table,
        command.columns,
        command.keepOld,
        command.backfill,
      ]);
      // What the table has now: the options given, and those it kept.
      const [now] = await sql<{ columns: string[] | null; keep_old: boolean }>(
        'SELECT columns, keep_old FROM capture.captured WHERE relid = $1::regclass',
        [command.table],
      );
      const options = [now.columns && `updates of ${now.columns.join(', ')}`, !now.keep_old && 'without old rows'].filter(Boolean);
      const capturing = `capturing ${command.table}${options.length ? ` (${options.join('; ')})` : ''}`;
      // Captured (committed) whatever the backfill does next: say so before waiting for it.
      if (backfill === null) return capturing;
      process.stdout.write(`${capturing}\n`);
      return waitShowing(backfill, sql);
    }
    case 'disable': {
      const [row] = await sql<{ was: boolean }>('SELECT capture.disable($1::regclass) AS was', [command.table]);
      return row.was ? `stopped capturing ${command.table}` : `${command.table} was not captured`;
    }
    case 'lookup':
      return lookup(command, sql);
    case 'backfill':
      return waitShowing(await startBackfill(sql, command.table, command.where), sql);
    case 'list': {
      const rows = await sql<{ name: string; table: string; key: string[] | null; columns: string[] | null; keep_old: boolean; problems: string[] }>(
        `SELECT format('%I.%I', schema_name, table_name) AS name, capture.qualified_name(schema_name, table_name) AS table,
                key, columns, keep_old, problems
         FROM capture.tables ORDER BY 1`,
      );
      const lookups = await columnLookups(sql);
      const lookupsOf = (table: string) =>
        lookups.filter((lookup) => lookup.table === table).map((lookup) => lookup.column + (lookup.complete ? '' : ' (indexing)'));
      if (!rows.length) return 'no table is under capture';
      const table = [
        ['TABLE', 'KEY', 'COLUMNS', 'OLD ROWS', 'LOOKUPS', 'PROBLEMS'],
        ...rows.map((row) => [
          row.name,
          row.key ? row.key.join(', ') : '(whole row)',
          row.columns ? row.columns.join(', ') : 'all columns',
          row.keep_old ? 'kept' : 'not kept',
          lookupsOf(row.table).join(', ') || '-',
          row.problems.join('; ') || '-',
        ]),
      ];
      const widths = table[0].map((_, i) => Math.max(...table.map((cells) => cells[i].length)));
      return table.map((cells) => cells.map((cell, i) => (i < cells.length - 1 ? cell.padEnd(widths[i]) : cell)).join('  ')).join('\n');
    }
  }
}

/** PostgreSQL's warnings (a table without a primary key, a filter that lost its columns), for the person at the terminal. */
async function withWarnings(client: pg.Client, work: () => Promise<string>): Promise<{ out: string; info?: string }> {
  const warnings: string[] = [];
  const onNotice = (notice: { severity?: string; message?: string }) => {
    if (notice.severity === 'WARNING') warnings.push(`warning: ${notice.message}`);
  };
  client.on('notice', onNotice);
  try {
    const out = await work();
    return { out, info: warnings.length ? warnings.join('\n') : undefined };
  } finally {
    client.off('notice', onNotice);
  }
}

// Run as a script only: a test imports parseArgs.
if (isMain(import.meta.url)) runCli({ name: 'capture', parse: parseArgs, run: (command, client) => withWarnings(client, () => run(command, clientSql(client))) });
