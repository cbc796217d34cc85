import pg from 'pg';

/**
 * Samples the database while a test runs: any row (table and key) with two messages leased at once
 * in a consumer group breaks per-key order. Resolves with the rows seen so when stopped.
 */
export function watchLeases(sql: pg.Pool): { stop(): Promise<string[]> } {
  const seen: string[] = [];
  let running = true;
  const sampling = (async () => {
    while (running) {
      try {
        const { rows } = await sql.query(
          `SELECT ordering_key FROM consumer_leased WHERE ordering_key IS NOT NULL GROUP BY group_id, ordering_key HAVING count(*) > 1`,
        );
        seen.push(...rows.map((row) => row.ordering_key as string));
      } catch {
        // the database is down (a crash test): sample again once it is back
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await sampling;
      return seen;
    },
  };
}
