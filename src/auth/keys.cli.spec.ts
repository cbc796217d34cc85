import { describe, expect, it } from 'vitest';
import { parseArgs } from './keys.cli.js';

describe('keys CLI arguments', () => {
  it('reads create with scopes and tables (public. dropped, as notifications name tables)', () => {
    expect(parseArgs(['create', 'feed', '--scopes', 'events:subscribe,events:subscribe', '--tables', 'public.invoices,sales.orders'])).toEqual({
      name: 'create',
      key: 'feed',
      scopes: ['events:subscribe'],
      tables: ['invoices', 'sales.orders'],
    });
    expect(parseArgs(['list'])).toEqual({ name: 'list' });
    expect(parseArgs(['revoke', 'feed'])).toEqual({ name: 'revoke', key: 'feed' });
  });

  it.each([
    [[], /^usage: npm run keys/],
    [['create'], /give the key a name/],
    [['create', '-x'], /give the key a name/],
    [['create', 'bad name'], /a key name is 1 to 64/],
    [['create', 'k'], /give the key its scopes/],
    [['create', 'k', '--scopes', 'root'], /unknown scope root; the scopes are .*webhooks:manage, sinks:manage, consumers:manage, consumers:consume, admin/],
    [['create', 'k', '--scopes', 'admin', '--tables', 'a.b.c'], /"a.b.c" is not a table name/],
    [['create', 'k', '--scope', 'admin'], /unknown option --scope/],
    [['create', 'k', '--scopes'], /--scopes needs a comma-separated list/],
    [['list', 'extra'], /unexpected extra/],
    [['revoke', 'k', 'extra'], /unexpected extra/],
  ])('refuses %j with a usage line', (args, message) => {
    expect(parseArgs(args as string[])).toMatch(message);
  });
});
