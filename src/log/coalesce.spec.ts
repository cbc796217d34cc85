import { describe, expect, it } from 'vitest';
import type { Operation } from '../../client/src/protocol.js';
import { StoredNotification } from '../events/event-catalog.js';
import { eventName } from '../events/captured-change.event.js';
import { coalesceTransaction } from './coalesce.js';

type Row = Record<string, unknown> | null;

let next = 1;
function change(op: Operation, pk: Row, old: Row, now: Row, table = 't'): StoredNotification {
  const id = String(next++);
  return {
    id,
    event: eventName('public', table, op),
    tableName: table,
    createdAt: new Date(0),
    payload: { schema: 'public', table, op, pk, old, new: now, changedColumns: null, actor: 'a', txId: '9', changedAt: new Date(0).toISOString() },
  };
}

const net = (changes: StoredNotification[]) =>
  coalesceTransaction(changes).map((n) => ({ id: n.id, event: n.event, old: n.payload.old, new: n.payload.new, columns: n.payload.changedColumns, ids: n.coalesced }));

describe('coalesceTransaction', () => {
  it('merges a row created and then changed into its creation as at commit', () => {
    next = 1;
    expect(net([change('INSERT', { id: 1 }, null, { id: 1, v: 0 }), change('UPDATE', { id: 1 }, { id: 1, v: 0 }, { id: 1, v: 5 })])).toEqual([
      { id: '1', event: 't.created', old: null, new: { id: 1, v: 5 }, columns: null, ids: ['1', '2'] },
    ]);
  });

  it('gives nothing for a row created and deleted, and a deletion from the state before for one updated and deleted', () => {
    next = 1;
    const changes = [
      change('INSERT', { id: 1 }, null, { id: 1 }),
      change('UPDATE', { id: 2 }, { id: 2, v: 1 }, { id: 2, v: 2 }),
      change('DELETE', { id: 1 }, { id: 1 }, null),
      change('DELETE', { id: 2 }, { id: 2, v: 2 }, null),
    ];
    expect(net(changes)).toEqual([{ id: '2', event: 't.deleted', old: { id: 2, v: 1 }, new: null, columns: null, ids: ['2', '4'] }]);
  });

  it('follows a row through a change of its key, and makes a deletion and re-creation an update', () => {
    next = 1;
    const changes = [
      change('UPDATE', { id: 1 }, { id: 1, v: 1 }, { id: 1, v: 2 }),
      change('UPDATE', { id: 7 }, { id: 1, v: 2 }, { id: 7, v: 2 }),
      change('DELETE', { id: 3 }, { id: 3, v: 3 }, null),
      change('INSERT', { id: 3 }, null, { id: 3, v: 4 }),
    ];
    expect(net(changes)).toEqual([
      { id: '1', event: 't.updated', old: { id: 1, v: 1 }, new: { id: 7, v: 2 }, columns: ['id', 'v'], ids: ['1', '2'] },
      { id: '3', event: 't.updated', old: { id: 3, v: 3 }, new: { id: 3, v: 4 }, columns: ['v'], ids: ['3', '4'] },
    ]);
  });

  it('keeps a TRUNCATE in its place and starts the table rows after it anew, other tables untouched', () => {
    next = 1;
    const changes = [
      change('INSERT', { id: 1 }, null, { id: 1, v: 1 }),
      change('INSERT', { id: 1 }, null, { id: 1 }, 'u'),
      change('TRUNCATE', null, null, null),
      change('INSERT', { id: 1 }, null, { id: 1, v: 2 }),
      change('UPDATE', { id: 1 }, { id: 1 }, { id: 1, w: 1 }, 'u'),
    ];
    expect(net(changes).map((n) => [n.id, n.event, n.ids])).toEqual([
      ['1', 't.created', undefined],
      ['2', 'u.created', ['2', '5']],
      ['3', 't.truncated', undefined],
      ['4', 't.created', undefined],
    ]);
  });
});
