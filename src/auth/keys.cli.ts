/**
 * `npm run keys -- create <name> --scopes a,b [--tables t1,t2] | list | revoke <name>`
 * Manages API keys on DATABASE_URL, or on the embedded database. `create` prints the new key on
 * stdout (and only there, once), so `KEY=$(npm run -s keys -- create ...)` works.
 */
import { canonicalTable } from '../../client/src/filter.js';
import { TABLE_PATTERN } from '../../client/src/protocol.js';
import { CliResult, isMain, runCli } from '../database/cli.js';
import { KEY_NAME, Scope, SCOPES } from './api-key.js';
import { clientSql, Sql } from '../database/sql.js';
import { ApiKeyStore } from './api-key.store.js';

const USAGE = `usage: npm run keys -- <command>
  create <name> --scopes <scopes> [--tables <tables>]
                   a new key; prints its secret once. Scopes, comma-separated:
                   ${SCOPES.join(', ')} (admin: all of them, and /metrics)
                   --tables limits the changes it may read (notifications, WebSocket) to these tables
  list             every key: name, scopes, tables, created, revoked (never a secret)
  revoke <name>    the key stops working on every instance within a second`;

type Command =
  | { name: 'list' }
  | { name: 'create'; key: string; scopes: Scope[]; tables: string[] | null }
  | { name: 'revoke'; key: string };

export function parseArgs(args: string[]): Command | string {
  const [name, key, ...rest] = args;
  if (name === 'list') return args.length === 1 ? { name } : `unexpected ${args.slice(1).join(' ')}`;
  if (name !== 'create' && name !== 'revoke') return USAGE;
  if (!key || key.startsWith('-')) return `give the key a name: npm run keys -- ${name} <name>`;
  if (!KEY_NAME.test(key)) return 'a key name is 1 to 64 letters, digits, and . _ @ - (starting with a letter or digit)';
  if (name === 'revoke') return rest.length ? `unexpected ${rest.join(' ')}` : { name, key };
  const options = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const [option, value] = [rest[i], rest[i + 1]];
    if (option !== '--scopes' && option !== '--tables') return `unknown option ${option}\n${USAGE}`;
    if (value === undefined || value.startsWith('-')) return `${option} needs a comma-separated list`;
    options.set(option, value);
  }
  const scopes = options.get('--scopes')?.split(',').map((scope) => scope.trim());
  if (!scopes) return `give the key its scopes: --scopes ${SCOPES.join(',')}`;
  const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
  if (unknown.length) return `unknown scope ${unknown.join(', ')}; the scopes are ${SCOPES.join(', ')}`;
  // Keys name tables as notifications do: `invoices` for `public.invoices`.
  const tables = options.get('--tables')?.split(',').map((table) => canonicalTable(table.trim())) ?? null;
  const badTable = tables?.find((table) => !TABLE_PATTERN.test(table));
  if (badTable !== undefined) return `${JSON.stringify(badTable)} is not a table name (table or schema.table)`;
  return { name, key, scopes: [...new Set(scopes)] as Scope[], tables };
}

async function run(command: Command, query: Sql): Promise<CliResult> {
  switch (command.name) {
    case 'create': {
      const token = await ApiKeyStore.create(query, { name: command.key, scopes: command.scopes, tables: command.tables });
      const tables = command.tables ? `tables ${command.tables.join(', ')}` : 'all tables';
      return {
        out: token,
        info: `created key ${command.key} (${command.scopes.join(', ')}; ${tables}). ` +
          'Its secret, below, is shown this once and stored nowhere: keep it now.',
      };
    }
    case 'revoke':
      if (await ApiKeyStore.revoke(query, command.key)) return { out: `revoked ${command.key}` };
      throw new Error(`no active key named ${command.key}`);
    case 'list': {
      const keys = await ApiKeyStore.all(query);
      if (!keys.length) return { out: 'no API key exists: the service is open to anyone who can reach it' };
      const rows = keys.map((key) => [
        key.name,
        key.scopes.join(','),
        key.tables?.join(',') ?? '*',
        key.createdAt.toISOString(),
        key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active',
      ]);
      const all = [['NAME', 'SCOPES', 'TABLES', 'CREATED', 'STATUS'], ...rows];
      const widths = all[0].map((_, column) => Math.max(...all.map((row) => row[column].length)));
      return { out: all.map((row) => row.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd()).join('\n') };
    }
  }
}

// Run as a script only: a test imports parseArgs.
if (isMain(import.meta.url)) {
  runCli({
    name: 'keys',
    parse: parseArgs,
    run: (command, client) => run(command, clientSql(client)),
    // Keys may be made before the service first starts.
    migrate: true,
    explain: (error) =>
      (error as { code?: string }).code === '23505' ? 'an active key has that name; revoke it first or choose another name' : undefined,
  });
}
