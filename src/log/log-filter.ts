import { likePrefix } from '../common/sql/like.js';

/** Which notifications a read wants; every filter given must hold. */
export interface LogFilter {
  /** An event name, or a prefix ending in `.*` (which leaves backfills' reads and events out: eventMatches). */
  event?: string;
  tables?: readonly string[];
  entityId?: string;
  /** Who made the change (payload.actor). */
  actor?: string;
  /**
   * Column values the row (`new`, `old` for deletions) must have, compared as text (the subscribe
   * language's rule); a TRUNCATE or schema change of the table passes, as it concerns every row.
   */
  where?: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * The filter as a read's six parameters, each null when that filter is not given: the event name,
 * the event prefix as a LIKE pattern, the tables, the entity id, the actor, `where` as JSON. A
 * statement tests them with filterClause; PostgreSQL plans each read with its values, so a filter
 * not given costs nothing.
 */
export function filterValues(filter: LogFilter): [string | null, string | null, readonly string[] | null, string | null, string | null, string | null] {
  const prefix = filter.event?.endsWith('.*') ? likePrefix(filter.event.slice(0, -1)) : null;
  const event = filter.event && prefix === null ? filter.event : null;
  const where = filter.where && Object.keys(filter.where).length ? JSON.stringify(filter.where) : null;
  return [event, prefix, filter.tables ?? null, filter.entityId ?? null, filter.actor ?? null, where];
}

/**
 * The conditions filterValues' parameters put on a journal row `c`, the first of them being `$first`.
 * `where` looks at `new`, or `old` when there is no new row; a change of no row (pk null) passes it.
 */
export function filterClause(first: number): string {
  const [event, prefix, tables, entity, actor, where] = [0, 1, 2, 3, 4, 5].map((i) => `$${first + i}`);
  return `(${event}::text IS NULL OR capture.event_name(c.schema_name, c.table_name, c.op) = ${event})
       AND (${prefix}::text IS NULL OR (capture.event_name(c.schema_name, c.table_name, c.op) LIKE ${prefix} AND c.backfill_id IS NULL))
       AND (${tables}::text[] IS NULL OR capture.qualified_name(c.schema_name, c.table_name) = ANY (${tables}))
       AND (${entity}::text IS NULL OR capture.entity_id(c.row_pk) = ${entity})
       AND (${actor}::text IS NULL OR c.actor = ${actor})
       AND (${where}::jsonb IS NULL OR c.row_pk IS NULL
            OR (coalesce(c.new, c.old) IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM jsonb_each(${where}::jsonb) w(k, v) WHERE NOT notification_matches(coalesce(c.new, c.old) -> w.k, w.v))))`;
}

/** Whether a read filters at all (then it looks at more ids per round trip). */
export function filters(filter: LogFilter): boolean {
  return Boolean(filter.event || filter.tables || filter.entityId !== undefined || filter.actor !== undefined || filterValues(filter)[5]);
}
