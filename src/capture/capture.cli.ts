/**
 * `npm run capture -- enable <table> [--columns a,b] | disable <table> | list`
 * Puts tables under capture (or takes them out) on DATABASE_URL, or on the embedded database.
 */
import { isMain, runCli } from '../database/cli.js';
import { clientSql, Sql } from '../database/sql.js';

const USAGE = `usage: npm run capture -- <command>
  enable <table> [--columns a,b]   capture every change of <table> (schema.table; public by default);
                                   with --columns, updates that change none of them are not captured
  disable <table>                  stop capturing <table>
  list                             the tables under capture and their column filters`;

type Command = { name: 'list' } | { name: 'enable'; table: string; columns: string[] | null } | { name: 'disable'; table: string };

export function parseArgs(args: string[]): Command | string {
  const [name, table, ...rest] = args;
  if (name === 'list' && args.length === 1) return { name };
  if ((name === 'enable' || name === 'disable') && table && !table.startsWith('-')) {
    if (name === 'disable') return rest.length ? `unexpected ${rest.join(' ')}` : { name, table };
    if (rest.length === 0) return { name, table, columns: null };
    if (rest[0] === '--columns' && rest.length === 2) {
      const columns = rest[1].split(',').map((column) => column.trim());
      if (columns.every(Boolean)) return { name, table, columns };
    }
    return 'give the column filter as --columns a,b';
  }
  return USAGE;
}

async function run(command: Command, sql: Sql): Promise<string> {
  switch (command.name) {
    case 'enable':
      await sql('SELECT capture.enable($1::regclass, $2::text[])', [command.table, command.columns]);
      return `capturing ${command.table}${command.columns ? ` (updates of ${command.columns.join(', ')})` : ''}`;
    case 'disable': {
      const [row] = await sql<{ was: boolean }>('SELECT capture.disable($1::regclass) AS was', [command.table]);
      return row.was ? `stopped capturing ${command.table}` : `${command.table} was not captured`;
    }
    case 'list': {
      const rows = await sql<{ name: string; columns: string[] | null }>(
        `SELECT format('%I.%I', schema_name, table_name) AS name, columns FROM capture.tables ORDER BY 1`,
      );
      if (!rows.length) return 'no table is under capture';
      const width = Math.max(...rows.map((row) => row.name.length));
      return rows.map((row) => `${row.name.padEnd(width)}  ${row.columns ? row.columns.join(', ') : 'all columns'}`).join('\n');
    }
  }
}

// Run as a script only: a test imports parseArgs.
if (isMain(import.meta.url)) runCli({ name: 'capture', parse: parseArgs, run: async (command, client) => ({ out: await run(command, clientSql(client)) }) });
