import { describe, expect, it } from 'vitest';
import { changedColumns, JournalRow, parseJournalRow } from './journal-row.js';

const row = (overrides: Partial<JournalRow> = {}): JournalRow => ({
  id: '7',
  tx: '100',
  schema_name: 'public',
  table_name: 'invoices',
  op: 'UPDATE',
  row_pk: { id: 'a' },
  old: { id: 'a', invoice_no: 'X', total_amount: 1 },
  new: { id: 'a', invoice_no: 'Y', total_amount: 1 },
  changed_columns: null,
  actor: 'alice',
  changed_at: new Date('2026-11-30T10:00:00Z'),
  backfill_id: null,
  ...overrides,
});

describe('parseJournalRow', () => {
  it('turns a well-formed update into a change, computing its changed columns', () => {
    const parsed = parseJournalRow(row());
    expect('change' in parsed && parsed.change).toMatchObject({ op: 'UPDATE', changedColumns: ['invoice_no'], actor: 'alice', pk: { id: 'a' } });
  });

  it('keeps the changed columns a row from before issue 10 carries', () => {
    const parsed = parseJournalRow(row({ changed_columns: ['total_amount'] }));
    expect('change' in parsed && parsed.change.changedColumns).toEqual(['total_amount']);
  });

  it.each([
    [{ schema_name: '' }, 'schema_name or table_name is empty'],
    [{ op: 'MERGE' }, 'unknown op "MERGE"'],
    [{ op: 'TRUNCATE' }, 'old and new must be null for TRUNCATE'],
    [{ op: 'SCHEMA_CHANGE', old: null, new: { command: 'ALTER TABLE', before: {} } }, 'new must be {command, before, after} for SCHEMA_CHANGE'],
    [{ row_pk: {} }, 'row_pk is not a non-empty object'],
    [{ new: [1] }, 'old or new is not an object'],
    [{ op: 'INSERT' }, 'old must be null for INSERT'],
    [{ op: 'DELETE' }, 'new must be null for DELETE'],
    [{ changed_columns: [1] }, 'changed_columns is not a list of names'],
    [{ op: 'READ', backfill_id: '3' }, 'new must be set and old null for READ'],
    [{ op: 'READ', old: null }, 'backfill_id is missing for READ'],
    [{ op: 'READ', old: null, row_pk: null, backfill_id: '3' }, 'row_pk is not a non-empty object'],
    [{ op: 'BACKFILL_STARTED', old: null, backfill_id: '3' }, 'row_pk must be null for BACKFILL_STARTED'],
    [{ op: 'BACKFILL_COMPLETED', old: null, row_pk: null, new: null, backfill_id: '3' }, 'new must be set and old null for BACKFILL_COMPLETED'],
    [{ op: 'BACKFILL_STOPPED', old: null, row_pk: null }, 'backfill_id is missing for BACKFILL_STOPPED'],
    [{ actor: null }, 'actor is missing'],
    [{ changed_at: 'yesterday' }, 'changed_at is not a time'],
  ] as [Partial<JournalRow>, string][])('skips %j: %s', (overrides, reason) => {
    expect(parseJournalRow(row(overrides))).toEqual({ skip: reason });
  });
});

describe('parseJournalRow, table events', () => {
  const shape = (table: string) => ({ schema: 'public', table, key: ['id'], columns: [{ name: 'id', type: 'integer' }] });

  it('turns a TRUNCATE into a change of the whole table: no key, no rows', () => {
    const parsed = parseJournalRow(row({ op: 'TRUNCATE', row_pk: null, old: null, new: null }));
    expect('change' in parsed && parsed.change).toMatchObject({ op: 'TRUNCATE', pk: null, newRow: null, oldRow: null, event: 'invoices.truncated', entityId: null });
  });

  it('turns a SCHEMA_CHANGE into a change carrying {command, before, after}, named as the table was', () => {
    const schemaChange = { command: 'ALTER TABLE', before: shape('invoices'), after: shape('bills') };
    const parsed = parseJournalRow(row({ op: 'SCHEMA_CHANGE', row_pk: null, old: null, new: schemaChange }));
    expect('change' in parsed && parsed.change).toMatchObject({ op: 'SCHEMA_CHANGE', pk: null, newRow: null, schemaChange, event: 'invoices.schema_changed' });
  });

  it('turns a READ into the row as a backfill read it, naming the backfill', () => {
    const parsed = parseJournalRow(row({ op: 'READ', old: null, backfill_id: '12' }));
    expect('change' in parsed && parsed.change).toMatchObject({ op: 'READ', pk: { id: 'a' }, oldRow: null, newRow: { invoice_no: 'Y' }, backfillId: '12', event: 'invoices.read', changedColumns: null });
  });

  it("turns a backfill's own event into a change of the whole table carrying the backfill, and its destinations", () => {
    const backfill = { id: '12', state: 'completed', rows: 3 };
    const parsed = parseJournalRow(row({ op: 'BACKFILL_COMPLETED', row_pk: null, old: null, new: backfill, backfill_id: '12', destinations: ['s1'] }));
    expect('change' in parsed && parsed.change).toMatchObject({ op: 'BACKFILL_COMPLETED', pk: null, newRow: backfill, backfillId: '12', destinations: ['s1'], event: 'invoices.backfill_completed', entityId: null });
  });

  it('takes an update without its old row (a table captured without it), its changed columns unknown', () => {
    const parsed = parseJournalRow(row({ old: null }));
    expect('change' in parsed && parsed.change).toMatchObject({ op: 'UPDATE', oldRow: null, changedColumns: null });
  });
});

describe('changedColumns', () => {
  it('lists new, changed and nested-changed columns in code-point order, comparing values as JSON', () => {
    expect(changedColumns({ b: 1, a: { x: 1 }, c: 'same' }, { b: 2, a: { x: 2 }, c: 'same', D: null })).toEqual(['D', 'a', 'b']);
    expect(changedColumns({ a: 1 }, { a: 1 })).toEqual([]);
  });
});
