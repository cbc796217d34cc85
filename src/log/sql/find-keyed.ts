import type { Sql } from '../../database/sql.js';

/**
 * The ids of the notifications notification_index holds under any of `keys` (each the parts
 * notification_key hashes, as JSON values: strings, numbers, booleans or null, compared as a
 * `where` compares them), with ids in (after, upTo], the `limit` nearest to `after` (ascending) or
 * to `upTo` (`descending`). Each key is one ordered range of the index, read no further than
 * `limit`, so the cost is what is returned.
 */
export async function findKeyed(
  sql: Sql,
  keys: readonly (readonly unknown[])[],
  range: { after: bigint; upTo: bigint; limit: number; descending: boolean },
): Promise<bigint[]> {
  const order = range.descending ? 'DESC' : 'ASC';
  const rows = await sql<{ id: string }>(
    `WITH keys AS (
       SELECT notification_key(VARIADIC ARRAY(SELECT notification_value(e.v) FROM jsonb_array_elements(k.parts) WITH ORDINALITY e(v, n) ORDER BY e.n)) AS key
       FROM jsonb_array_elements($1::jsonb) k(parts))
     SELECT DISTINCT x.id::text AS id, x.id AS n
     FROM keys
     CROSS JOIN LATERAL (
       SELECT i.id FROM notification_index i
       WHERE i.key = keys.key AND i.id > $2 AND i.id <= $3
       ORDER BY i.id ${order} LIMIT $4) x
     ORDER BY x.id ${order} LIMIT $4`,
    [JSON.stringify(keys), range.after.toString(), range.upTo.toString(), range.limit],
  );
  return rows.map((row) => BigInt(row.id));
}
