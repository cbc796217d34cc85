import type { NotificationRow } from './notifications.js';

/** A row of a table keyed by `id`, as a consumer holds it. */
export type KeyedRow = { id: number } & Record<string, unknown>;

interface RowChange {
  op: string;
  pk?: { id: number };
  new?: KeyedRow | null;
  old?: KeyedRow | null;
}

/**
 * Applies a table's log in order as a consumer would (reads and creations as upserts, updates
 * moving the row, deletions removing it), checking each change against what the consumer holds
 * when it comes: a read must show every change before it (its row is what the consumer holds, if it
 * holds one), an update must start from what the consumer holds. Events about the table rather than
 * a row (a backfill's start and end, say) are left to the caller.
 */
export function applyInOrder(log: Pick<NotificationRow, 'payload'>[]): { state: Map<number, KeyedRow>; problems: string[] } {
  const state = new Map<number, KeyedRow>();
  const problems: string[] = [];
  for (const [position, notification] of log.entries()) {
    const { op, pk, new: row, old } = notification.payload as unknown as RowChange;
    if (!pk || !['READ', 'INSERT', 'UPDATE', 'DELETE'].includes(op)) continue;
    const held = state.get(pk.id);
    if (op === 'READ') {
      if (held && JSON.stringify(held) !== JSON.stringify(row)) problems.push(`#${position} read of ${pk.id} ${JSON.stringify(row)} after ${JSON.stringify(held)}`);
      state.set(pk.id, row!);
    } else if (op === 'INSERT') {
      state.set(pk.id, row!);
    } else if (op === 'UPDATE') {
      if (held && JSON.stringify(held) !== JSON.stringify(old)) problems.push(`#${position} update of ${pk.id} from ${JSON.stringify(old)} while holding ${JSON.stringify(held)}`);
      state.set(pk.id, row!);
    } else {
      state.delete(pk.id);
    }
  }
  return { state, problems };
}

/**
 * How often each key was read, and the keys of rows there at start (ids 1…rows) that were not read
 * although no deletion of them came before any read: each row must be read once, unless a writer
 * deleted it before its chunk came.
 */
export function readsOf(log: Pick<NotificationRow, 'payload'>[], rows: number): { readTwice: number[]; unread: number[] } {
  const reads = new Map<number, number>();
  const deleted = new Set<number>();
  for (const { payload } of log) {
    const { op, pk } = payload as unknown as RowChange;
    if (!pk) continue;
    if (op === 'READ') reads.set(pk.id, (reads.get(pk.id) ?? 0) + 1);
    if (op === 'DELETE' && !reads.has(pk.id)) deleted.add(pk.id);
  }
  return {
    readTwice: [...reads].filter(([, n]) => n > 1).map(([id]) => id),
    unread: Array.from({ length: rows }, (_, i) => i + 1).filter((id) => !reads.has(id) && !deleted.has(id)),
  };
}
