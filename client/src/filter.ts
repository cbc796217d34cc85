import { BACKFILL_OPERATIONS, type Notification, type NotificationFilter } from './protocol.js';

/** `public.invoices` and `invoices` are one table; notifications name it without `public.`. */
export function canonicalTable(table: string): string {
  return table.startsWith('public.') ? table.slice('public.'.length) : table;
}

/**
 * Whether an event name is `pattern`, or starts with its prefix when it ends in `.*`. A prefix never
 * takes a backfill's reads (`<table>.read`) or its own events (`<table>.backfill_started`, …): a
 * subscriber of `invoices.*` is not flooded with every row when someone backfills invoices; they go
 * to whoever names them.
 */
export function eventMatches(pattern: string, event: string): boolean {
  return pattern.endsWith('.*') ? event.startsWith(pattern.slice(0, -1)) && !BACKFILL_EVENT.test(event) : event === pattern;
}

/** The last part of a backfill's event names: `read`, and its own ops in lower case (`backfill_started`, …). */
const BACKFILL_EVENT = new RegExp(`\\.(read|${BACKFILL_OPERATIONS.map((op) => op.toLowerCase()).join('|')})$`);

/**
 * The server's subscription filter, on the client: a guard that each subscription's handler gets
 * only what it asked for. Same rules as the service's NotificationFilter, which
 * runs this on what its log holds: so it reads a notification's event and payload, nothing else.
 * `destination` is the sink (its id) the filter is for, if any: a backfill aimed at sinks
 * (`payload.destinations`) goes to those alone, whatever their `events`.
 */
export function compileFilter(
  filter: NotificationFilter,
  destination?: string,
): (notification: Pick<Notification, 'event' | 'payload'>) => boolean {
  const events = filter.events ?? [];
  const exact = new Set(events.filter((event) => !event.endsWith('.*')));
  const prefixes = events.filter((event) => event.endsWith('.*')).map((event) => event.slice(0, -1));
  const tables = filter.tables ? new Set(filter.tables.map(canonicalTable)) : undefined;
  const where = Object.entries(filter.where ?? {});
  return (notification) => {
    // A backfill's reads and events pass only a filter that names their event (`invoices.read`):
    // neither a `.*` prefix nor a filter without events takes them, so no subscriber is flooded by
    // surprise. A backfill aimed at sinks goes to those sinks, and to no one else.
    const { destinations } = notification.payload;
    if (destinations) {
      if (destination === undefined || !destinations.includes(destination)) return false;
    } else if (notification.payload.backfill !== undefined) {
      if (!exact.has(notification.event)) return false;
    } else if (events.length && !exact.has(notification.event) && !prefixes.some((prefix) => notification.event.startsWith(prefix))) {
      return false;
    }
    const { payload } = notification;
    if (tables && !tables.has(payload.schema === 'public' ? payload.table : `${payload.schema}.${payload.table}`)) return false;
    // A TRUNCATE or a schema change concerns every row: whatever rows a subscriber keeps, it must hear of it.
    if (where.length && payload.pk !== null) {
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
