/** Which notifications a read wants; every filter given must hold. */
export interface LogFilter {
  /** An event name, or a prefix ending in `.*`. */
  event?: string;
  tables?: readonly string[];
  entityId?: string;
}

/**
 * The filter as the reads' four parameters, each null when that filter is not given: the event
 * name, the event prefix as a LIKE pattern, the tables, the entity id. A statement tests each as
 * `($n IS NULL OR …)`; PostgreSQL plans each read with its values, so a filter not given costs nothing.
 */
export function filterValues(filter: LogFilter): [string | null, string | null, readonly string[] | null, string | null] {
  const prefix = filter.event?.endsWith('.*') ? `${escapeLike(filter.event.slice(0, -1))}%` : null;
  const event = filter.event && prefix === null ? filter.event : null;
  return [event, prefix, filter.tables ?? null, filter.entityId ?? null];
}

/** Whether a read filters at all (then it looks at more ids per round trip). */
export function filters(filter: LogFilter): boolean {
  return Boolean(filter.event || filter.tables || filter.entityId !== undefined);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
