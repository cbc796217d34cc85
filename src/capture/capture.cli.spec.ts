import { describe, expect, it } from 'vitest';
import { parseArgs } from './capture.cli.js';

describe('capture CLI arguments', () => {
  it('reads enable, disable and list', () => {
    expect(parseArgs(['enable', 'sales.orders', '--columns', 'status, total'])).toEqual({
      name: 'enable',
      table: 'sales.orders',
      columns: ['status', 'total'],
      keepOld: null,
      backfill: false,
    });
    expect(parseArgs(['enable', 'invoices'])).toEqual({ name: 'enable', table: 'invoices', columns: null, keepOld: null, backfill: false });
    expect(parseArgs(['enable', 'events', '--no-old', '--columns', 'a'])).toEqual({ name: 'enable', table: 'events', columns: ['a'], keepOld: false, backfill: false });
    expect(parseArgs(['enable', 'events', '--old', '--all-columns'])).toEqual({ name: 'enable', table: 'events', columns: [], keepOld: true, backfill: false });
    expect(parseArgs(['disable', 'invoices'])).toEqual({ name: 'disable', table: 'invoices' });
    expect(parseArgs(['list'])).toEqual({ name: 'list' });
    expect(parseArgs(['backfill', 'sales.orders'])).toEqual({ name: 'backfill', table: 'sales.orders', where: null });
    expect(parseArgs(['backfill', 'orders', 'x'])).toBe('unexpected x');
    expect(parseArgs(['lookup', 'invoice_items', 'invoice_id'])).toEqual({ name: 'lookup', table: 'invoice_items', column: 'invoice_id', drop: false });
    expect(parseArgs(['lookup', 'orders', 'status', '--drop'])).toEqual({ name: 'lookup', table: 'orders', column: 'status', drop: true });
  });

  it('reads a backfill along with enable, and a backfill of the rows with given values', () => {
    expect(parseArgs(['enable', 'orders', '--backfill'])).toEqual({ name: 'enable', table: 'orders', columns: null, keepOld: null, backfill: true });
    expect(parseArgs(['enable', 'orders', '--backfill', '--no-old'])).toMatchObject({ backfill: true, keepOld: false });
    expect(parseArgs(['backfill', 'orders', '--where', 'status=open', '--where', 'region=eu=west', '--where', 'note='])).toEqual({
      name: 'backfill',
      table: 'orders',
      where: { status: 'open', region: 'eu=west', note: '' },
    });
  });

  it.each([
    [['backfill', 'x', '--where'], /--where column=value/],
    [['backfill', 'x', '--where', 'status'], /--where column=value/],
    [['backfill', 'x', '--where', '=open'], /--where column=value/],
    [['backfill', 'x', '--where', 'a b=1'], /--where column=value/],
    [['backfill', 'x', '--where', 'a=1', '--where', 'a=2'], /--where names a twice/],
    [['backfill', 'x', '--backfill'], /unexpected --backfill/],
    [[], /^usage: npm run capture/],
    [['enable'], /^usage/],
    [['enable', '--columns'], /^usage/],
    [['enable', 'x', '--columns'], /give the column filter as --columns a,b/],
    [['enable', 'x', '--columns', 'a,,b'], /give the column filter/],
    [['disable', 'x', 'y'], /unexpected y/],
    [['enable', 'x', '--new'], /unexpected --new/],
    [['list', 'x'], /^usage/],
    [['lookup', 'x'], /lookup <table> <column>/],
    [['lookup', 'x', 'a b'], /lookup <table> <column>/],
    [['lookup', 'x', 'a', '--now'], /unexpected --now/],
  ])('refuses %j', (args, message) => {
    expect(parseArgs(args as string[])).toMatch(message);
  });
});
