import type { Operation } from '../../client/src/protocol.js';
import { eventName } from '../events/captured-change.event.js';
import { StoredNotification } from '../events/event-catalog.js';
import { changedColumns } from './journal-row.js';
import type { TransactionExtent } from './sql/transaction-of.js';

/**
 * A transaction is coalesced in parts of this many ids (from its first): a row changed in two parts
 * of a larger transaction gives a notification in each. A coalescing reader holds a part in memory
 * until it is complete.
 */
export const COALESCE_PART = 10_000;

/** The log as a coalescing read needs it. */
export interface CoalesceSource {
  /** Up to `limit` notifications after `after`, ascending, unfiltered. */
  readAfter(after: bigint, limit: number): Promise<StoredNotification[]>;
  /** The transaction of a notification (NotificationLog.transactionOf). */
  transactionOf(id: bigint): Promise<TransactionExtent | undefined>;
}

/** A coalesced page: the net changes of the complete transactions (or parts) after the position, and how far it covered. */
export interface CoalescedPage {
  notifications: StoredNotification[];
  /** The next read starts after this id; below it every transaction was complete and is in `notifications`. */
  through: bigint;
}

/**
 * The net changes after `after` (`coalesce: 'transaction'`), in the order of each row's first
 * change, each carrying the id of that first change. A position means: every net change whose first
 * change is at or below it has been taken. That is what the read gives, wherever the position falls
 * (inside a transaction too: the transaction is read from its start again, and only the net changes
 * that begin after the position are new), so a consumer resumes from the id of the last one it took
 * (or a `through`) with no gap and no duplicate.
 *
 * A transaction (or part, COALESCE_PART) is given only once it is complete: the log has a later
 * one, or the journal has no more of its changes. One that is not yet is left for the next read
 * (`through` stops before it).
 */
export async function readCoalesced(source: CoalesceSource, after: bigint, part = COALESCE_PART): Promise<CoalescedPage> {
  const partOf = (id: bigint, start: bigint) => (id - start) / BigInt(part);
  // The transaction the position is inside, if it goes on after it: its start, and its changes so far in the current part.
  let carried: { tx: string; start: bigint } | undefined;
  let primed: StoredNotification[] = [];
  if (after > 0n) {
    const extent = await source.transactionOf(after);
    if (extent && !extent.ended) {
      carried = { tx: extent.tx, start: extent.start };
      const partStart = extent.start + partOf(after, extent.start) * BigInt(part);
      primed = (await source.readAfter(partStart - 1n, Number(after - partStart + 1n))).filter((n) => BigInt(n.id) <= after);
    }
  }
  const page = await source.readAfter(after, part);
  const units: { tx: string | undefined; start: bigint; part: bigint; changes: StoredNotification[] }[] = [];
  for (const notification of [...primed, ...page]) {
    const id = BigInt(notification.id);
    const tx = notification.payload.txId;
    const unit = units[units.length - 1];
    if (unit && tx !== undefined && unit.tx === tx && partOf(id, unit.start) === unit.part) {
      unit.changes.push(notification);
      continue;
    }
    const start = unit?.tx === tx && tx !== undefined ? unit.start : carried?.tx === tx ? carried.start : id;
    units.push({ tx, start, part: partOf(id, start), changes: [notification] });
  }
  // The last one is complete when its part is full or its transaction ended (a full page may stop anywhere in it).
  let through = page.length ? BigInt(page[page.length - 1].id) : after;
  const last = units[units.length - 1];
  if (last) {
    const end = BigInt(last.changes[last.changes.length - 1].id);
    const full = partOf(end + 1n, last.start) > last.part;
    if (!full && !((await source.transactionOf(end))?.ended ?? page.length < part)) {
      units.pop();
      through = BigInt(last.changes[0].id) - 1n;
    }
  }
  const notifications = units.flatMap((unit) => coalesceTransaction(unit.changes)).filter((n) => BigInt(n.id) > after);
  return { notifications, through: through > after ? through : after };
}

/** A row's changes in one transaction, as they merge. */
interface Group {
  changes: StoredNotification[];
}

/**
 * One transaction's notifications (or a part's; ascending, consecutive) as net changes: one per
 * row, in the order of each row's first change, with the id of that first change. A row followed
 * through a change of its key is one row. Created then deleted: nothing. Created (then changed):
 * created, as it was at commit. Deleted last: deleted, `old` as before the transaction. Otherwise
 * updated, from `old` before the transaction to `new` at commit. A TRUNCATE or schema change of a
 * table stands as it is, and its rows' changes after it are new rows.
 */
export function coalesceTransaction(changes: readonly StoredNotification[]): StoredNotification[] {
  const groups: (Group | StoredNotification)[] = [];
  const open = new Map<string, Group>();
  for (const change of changes) {
    const { pk, op } = change.payload;
    if (pk === null) {
      for (const [key, group] of open) if (group.changes[0].tableName === change.tableName) open.delete(key);
      groups.push(change);
      continue;
    }
    const key = rowKey(change.tableName, pk);
    const before = op === 'UPDATE' && change.payload.old ? rowKey(change.tableName, keyOf(pk, change.payload.old)) : key;
    let group = open.get(before);
    if (group) open.delete(before);
    else groups.push((group = { changes: [] }));
    group.changes.push(change);
    open.set(key, group);
  }
  return groups.flatMap((group) => ('changes' in group ? (net(group.changes) ?? []) : [group]));
}

/** The net change of one row's changes, or undefined when it was created and deleted. */
function net(changes: StoredNotification[]): StoredNotification | undefined {
  const first = changes[0];
  if (changes.length === 1) return first;
  const last = changes[changes.length - 1];
  const [from, to] = [first.payload.op, last.payload.op];
  if (from === 'INSERT' && to === 'DELETE') return undefined;
  const op: Operation = from === 'INSERT' ? 'INSERT' : to === 'DELETE' ? 'DELETE' : 'UPDATE';
  const old = op === 'INSERT' ? null : first.payload.old;
  const now = op === 'DELETE' ? null : last.payload.new;
  return {
    ...last,
    id: first.id,
    event: eventName(last.payload.schema, last.payload.table, op),
    payload: { ...last.payload, op, old, new: now, changedColumns: op === 'UPDATE' && old && now ? changedColumns(old, now) : null },
    coalesced: changes.map((change) => change.id),
  };
}

function rowKey(table: string, pk: Record<string, unknown>): string {
  return `${table}\u0000${JSON.stringify(pk)}`;
}

/** The key `pk` names, as `row` has it. */
function keyOf(pk: Record<string, unknown>, row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(pk).map((column) => [column, row[column]]));
}
