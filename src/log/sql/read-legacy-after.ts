import type { NotificationPayload } from '../../../client/src/protocol.js';
import type { Sql } from '../../database/sql.js';
import { filterValues, LogFilter } from '../log-filter.js';

/** A notification written before OneWritePerChange, in the API's shape. */
export interface LegacyRow {
  id: string;
  created_at: Date;
  event: string;
  table_name: string;
  payload: NotificationPayload;
}

/** Up to `limit` legacy notifications with ids above `after` that pass `filter`, ascending. */
export function readLegacyAfter(sql: Sql, after: bigint, limit: number, filter: LogFilter): Promise<LegacyRow[]> {
  return sql<LegacyRow>(
    `SELECT n.id::text AS id, n.created_at, n.event, n.table_name, n.payload
     FROM notifications_legacy n
     WHERE n.id > $1
       AND ($3::text IS NULL OR n.event = $3)
       AND ($4::text IS NULL OR n.event LIKE $4)
       AND ($5::text[] IS NULL OR n.table_name = ANY ($5))
       AND ($6::text IS NULL OR n.entity_id = $6)
       AND ($7::text IS NULL OR n.payload ->> 'actor' = $7)
       AND ($8::jsonb IS NULL OR jsonb_typeof(n.payload -> 'pk') IS DISTINCT FROM 'object'
            OR (coalesce(n.payload -> 'new', n.payload -> 'old') IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM jsonb_each($8::jsonb) w(k, v)
                                WHERE NOT notification_matches(coalesce(n.payload -> 'new', n.payload -> 'old') -> w.k, w.v))))
     ORDER BY n.id LIMIT $2`,
    [after.toString(), limit, ...filterValues(filter)],
  );
}
