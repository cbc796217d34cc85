import type { Notification, NotificationFilter } from './protocol.js';

/** The server refuses longer lists; a merged filter past this leaves the field out (matches more). */
const MAX_LIST = 50;
/** The server refuses subscribe messages over 16 KiB; a merged filter near that subscribes to everything. */
const MAX_MESSAGE_BYTES = 12 * 1024;

/** `public.invoices` and `invoices` are one table; notifications name it without `public.`. */
export function canonicalTable(table: string): string {
  return table.startsWith('public.') ? table.slice('public.'.length) : table;
}

/**
 * The server's subscription filter, on the client: one connection carries several subscriptions,
 * and each gets only its own notifications. Same rules as the service's NotificationFilter, which
 * runs this on what its log holds: so it reads a notification's event and payload, nothing else.
 */
export function compileFilter(filter: NotificationFilter): (notification: Pick<Notification, 'event' | 'payload'>) => boolean {
  const events = filter.events ?? [];
  const exact = new Set(events.filter((event) => !event.endsWith('.*')));
  const prefixes = events.filter((event) => event.endsWith('.*')).map((event) => event.slice(0, -1));
  const tables = filter.tables ? new Set(filter.tables.map(canonicalTable)) : undefined;
  const where = Object.entries(filter.where ?? {});
  return (notification) => {
    if (events.length && !exact.has(notification.event) && !prefixes.some((prefix) => notification.event.startsWith(prefix))) {
      return false;
    }
    const { payload } = notification;
    if (tables && !tables.has(payload.schema === 'public' ? payload.table : `${payload.schema}.${payload.table}`)) return false;
    if (where.length) {
      // Deletions have no new row; their old one is what a filter looks at.
      const row = payload.new ?? payload.old;
      if (!row || where.some(([column, value]) => !sameValue(row[column], value))) return false;
    }
    return true;
  };
}

/** As text, so that 3 and "3" match; null matches only null or a missing column. */
function sameValue(actual: unknown, wanted: unknown): boolean {
  if (wanted === null) return actual === null || actual === undefined;
  if (actual === null || actual === undefined || typeof actual === 'object') return false;
  return String(actual) === String(wanted);
}

/**
 * One filter that matches at least everything any of `filters` matches: a field stays only when
 * every filter has it (lists are joined, `where` keeps the columns all agree on). A connection
 * resumes with a single subscription (ids ascend per connection, so a second `since` could be
 * refused once the first one's replay has sent something), and the client filters per subscription.
 */
export function mergeFilters(filters: readonly NotificationFilter[]): NotificationFilter {
  if (filters.length === 1) return filters[0];
  const merged: NotificationFilter = {};
  const events = union(filters.map((filter) => filter.events));
  if (events) merged.events = events;
  const tables = union(filters.map((filter) => filter.tables?.map(canonicalTable)));
  if (tables) merged.tables = tables;
  const [first, ...others] = filters.map((filter) => filter.where ?? {});
  const where = Object.entries(first).filter(([column, value]) => others.every((other) => column in other && other[column] === value));
  if (where.length) merged.where = Object.fromEntries(where);
  return new TextEncoder().encode(JSON.stringify(merged)).length > MAX_MESSAGE_BYTES ? {} : merged;
}

function union(lists: (string[] | undefined)[]): string[] | undefined {
  if (lists.some((list) => list === undefined)) return undefined;
  const all = [...new Set(lists.flatMap((list) => list!))];
  return all.length <= MAX_LIST ? all : undefined;
}
