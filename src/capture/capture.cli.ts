/**
 * `npm run capture -- enable <table> [--columns a,b] [--no-old] | disable <table> | list`
 * Puts tables under capture (or takes them out) on DATABASE_URL, or on the embedded database.
 */
import pg from 'pg';
import { isMain, runCli } from '../database/cli.js';
import { clientSql, Sql } from '../database/sql.js';

const USAGE = `usage: npm run capture -- <command>
  enable <table> [--columns a,b | --all-columns] [--no-old | --old]
                                   capture every change of <table> (schema.table; public by default), or
                                   re-arm it (its triggers recreated and enabled); options not given
                                   stay as they are (new tables: every column, old rows kept);
                                   with --columns, updates that change none of them are not captured;
                                   with --no-old, updates and deletions do not carry the old row
  disable <table>                  stop capturing <table>
  list                             the tables under capture: key, column filter, old rows, problems`;

type Command =
  | { name: 'list' }
  /** null: as the table has it. An empty list of columns: every column. */
  | { name: 'enable'; table: string; columns: string[] | null; keepOld: boolean | null }
  | { name: 'disable'; table: string };

export function parseArgs(args: string[]): Command | string {
  const [name, table, ...rest] = args;
  if (name === 'list' && args.length === 1) return { name };
  if ((name === 'enable' || name === 'disable') && table && !table.startsWith('-')) {
    if (name === 'disable') return rest.length ? `unexpected ${rest.join(' ')}` : { name, table };
    const command: Command = { name, table, columns: null, keepOld: null };
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--no-old' || rest[i] === '--old') command.keepOld = rest[i] === '--old';
      else if (rest[i] === '--all-columns') command.columns = [];
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

async function run(command: Command, sql: Sql): Promise<string> {
  switch (command.name) {
    case 'enable': {
      await sql('SELECT capture.enable($1::regclass, $2::text[], $3)', [command.table, command.columns, command.keepOld]);
      // What the table has now: the options given, and those it kept.
      const [now] = await sql<{ columns: string[] | null; keep_old: boolean }>(
        'SELECT columns, keep_old FROM capture.captured WHERE relid = $1::regclass',
        [command.table],
      );
      const options = [now.columns && `updates of ${now.columns.join(', ')}`, !now.keep_old && 'without old rows'].filter(Boolean);
      return `capturing ${command.table}${options.length ? ` (${options.join('; ')})` : ''}`;
    }
    case 'disable': {
      const [row] = await sql<{ was: boolean }>('SELECT capture.disable($1::regclass) AS was', [command.table]);
      return row.was ? `stopped capturing ${command.table}` : `${command.table} was not captured`;
    }
    case 'list': {
      const rows = await sql<{ name: string; key: string[] | null; columns: string[] | null; keep_old: boolean; problems: string[] }>(
        `SELECT format('%I.%I', schema_name, table_name) AS name, key, columns, keep_old, problems FROM capture.tables ORDER BY 1`,
      );
      if (!rows.length) return 'no table is under capture';
      const table = [
        ['TABLE', 'KEY', 'COLUMNS', 'OLD ROWS', 'PROBLEMS'],
        ...rows.map((row) => [
          row.name,
          row.key ? row.key.join(', ') : '(whole row)',
          row.columns ? row.columns.join(', ') : 'all columns',
          row.keep_old ? 'kept' : 'not kept',
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
