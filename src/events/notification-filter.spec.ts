import { describe, expect, it } from 'vitest';
import { storedNotification } from '../../test/support/notifications.js';
import { canonicalTable, NotificationFilter } from './notification-filter.js';

const notification = (event: string, tableName: string, row: Record<string, unknown> | null, old: Record<string, unknown> | null = null) =>
  storedNotification({
    event,
    tableName,
    payload: {
      schema: tableName.includes('.') ? tableName.split('.')[0] : 'public',
      table: tableName.includes('.') ? tableName.split('.')[1] : tableName,
      op: row ? 'INSERT' : 'DELETE',
      new: row,
      old,
    },
  });

describe('NotificationFilter', () => {
  const item = notification('invoice_items.created', 'invoice_items', { invoice_id: 'i1', quantity: 3, note: null });

  it('matches everything when empty', () => {
    expect(new NotificationFilter({}).matches(item)).toBe(true);
  });

  it('matches exact events and .* prefixes, and only whole name parts', () => {
    expect(new NotificationFilter({ events: ['invoice_items.created'] }).matches(item)).toBe(true);
    expect(new NotificationFilter({ events: ['invoice_items.*'] }).matches(item)).toBe(true);
    expect(new NotificationFilter({ events: ['invoice.*'] }).matches(item)).toBe(false);
    expect(new NotificationFilter({ events: ['invoices.created'] }).matches(item)).toBe(false);
  });

  it("takes a backfill's reads only when its events name <table>.read: not by a .* prefix, nor without events", () => {
    const read = storedNotification({
      event: 'invoice_items.read',
      tableName: 'invoice_items',
      payload: { schema: 'public', table: 'invoice_items', op: 'READ', new: { invoice_id: 'i1' }, old: null, backfill: '4' },
    });
    expect(new NotificationFilter({ events: ['invoice_items.read'] }).matches(read)).toBe(true);
    expect(new NotificationFilter({ events: ['invoice_items.read'], where: { invoice_id: 'i1' } }).matches(read)).toBe(true);
    expect(new NotificationFilter({ events: ['invoice_items.read'], where: { invoice_id: 'i2' } }).matches(read)).toBe(false);
    expect(new NotificationFilter({ events: ['invoice_items.*'] }).matches(read)).toBe(false);
    expect(new NotificationFilter({ events: ['invoices.read'] }).matches(read)).toBe(false);
    expect(new NotificationFilter({ tables: ['invoice_items'] }).matches(read)).toBe(false);
    expect(new NotificationFilter({}).matches(read)).toBe(false);
  });

  it("takes a backfill's own events like its reads, and passes them through any where (they are about the whole table)", () => {
    const completed = storedNotification({
      event: 'invoice_items.backfill_completed',
      tableName: 'invoice_items',
      payload: { schema: 'public', table: 'invoice_items', op: 'BACKFILL_COMPLETED', pk: null, new: { id: '4', state: 'completed' }, old: null, backfill: '4' },
    });
    expect(new NotificationFilter({ events: ['invoice_items.backfill_completed'], where: { invoice_id: 'i1' } }).matches(completed)).toBe(true);
    expect(new NotificationFilter({ events: ['invoice_items.*'] }).matches(completed)).toBe(false);
    expect(new NotificationFilter({}).matches(completed)).toBe(false);
  });

  it('gives a backfill aimed at sinks to those sinks alone, whatever their events; their tables and where still apply', () => {
    const aimed = storedNotification({
      event: 'invoice_items.read',
      tableName: 'invoice_items',
      payload: { schema: 'public', table: 'invoice_items', op: 'READ', new: { invoice_id: 'i1' }, old: null, backfill: '5', destinations: ['sink-a', 'sink-b'] },
    });
    expect(new NotificationFilter({}, 'sink-a').matches(aimed)).toBe(true);
    expect(new NotificationFilter({ events: ['invoice_items.*'] }, 'sink-b').matches(aimed)).toBe(true);
    expect(new NotificationFilter({ events: ['invoices.created'] }, 'sink-a').matches(aimed)).toBe(true);
    expect(new NotificationFilter({ tables: ['invoices'] }, 'sink-a').matches(aimed)).toBe(false);
    expect(new NotificationFilter({ where: { invoice_id: 'i2' } }, 'sink-a').matches(aimed)).toBe(false);
    expect(new NotificationFilter({ events: ['invoice_items.read'] }, 'sink-c').matches(aimed)).toBe(false);
    expect(new NotificationFilter({ events: ['invoice_items.read'] }).matches(aimed)).toBe(false);
  });

  it('matches tables', () => {
    expect(new NotificationFilter({ tables: ['invoice_items'] }).matches(item)).toBe(true);
    expect(new NotificationFilter({ tables: ['invoices'] }).matches(item)).toBe(false);
  });

  it('compares where values as text, null with null or missing, and uses old for deletions', () => {
    expect(new NotificationFilter({ where: { quantity: '3' } }).matches(item)).toBe(true);
    expect(new NotificationFilter({ where: { quantity: 3, invoice_id: 'i1' } }).matches(item)).toBe(true);
    expect(new NotificationFilter({ where: { quantity: 4 } }).matches(item)).toBe(false);
    expect(new NotificationFilter({ where: { note: null, missing: null } }).matches(item)).toBe(true);
    expect(new NotificationFilter({ where: { quantity: null } }).matches(item)).toBe(false);
    const deleted = notification('invoice_items.deleted', 'invoice_items', null, { invoice_id: 'i1' });
    expect(new NotificationFilter({ where: { invoice_id: 'i1' } }).matches(deleted)).toBe(true);
  });

  it('names public tables without their schema', () => {
    expect(canonicalTable('public.invoices')).toBe('invoices');
    expect(canonicalTable('sales.orders')).toBe('sales.orders');
    expect(canonicalTable('invoices')).toBe('invoices');
  });
});
