import type { Sql } from '../database/sql.js';
import { type Backfill, progress } from './backfill.js';
import { getBackfill } from './backfill.repository.js';
import { backfillChunk, MIN_CHUNK, runChunks } from './chunks.js';

const WIDTH = 24;
/** While the app's runner holds the backfill, the CLI looks at it this often. */
const WATCH_MS = 250;
/** How often the progress line changes while this CLI runs the chunks. */
const SHOW_EVERY_MS = 200;

/** `invoices: [##########--------------] 42%  21,000 of ~50,000 rows  35,000 rows/s  ETA 1 s` */
export function progressLine(backfill: Backfill): string {
  const { rate, etaSeconds } = progress(backfill);
  const share = backfill.estimate > 0 ? Math.min(1, backfill.rowsDone / backfill.estimate) : backfill.state === 'completed' ? 1 : 0;
  const filled = Math.round(share * WIDTH);
  return [
    `${backfill.table}: [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${Math.floor(share * 100)}%`,
    `${backfill.rowsDone.toLocaleString('en')} of ${backfill.state === 'completed' ? '' : '~'}${backfill.estimate.toLocaleString('en')} rows`,
    rate === null ? '' : `${rate.toLocaleString('en')} rows/s`,
    etaSeconds === null || backfill.state !== 'running' ? backfill.state : `ETA ${etaSeconds} s`,
  ]
    .filter(Boolean)
    .join('  ');
}

/**
 * `npm run capture -- backfill <table> [--where column=value …]`: starts a backfill (the one POST
 * /backfills starts) and returns its id.
 */
export async function startBackfill(sql: Sql, table: string, where: Backfill['where'] = null): Promise<string> {
  const [{ id }] = await sql<{ id: string }>(`SELECT (capture.backfill_start($1::regclass, $2::jsonb, NULL)).id::text AS id`, [
    table,
    where === null ? null : JSON.stringify(where),
  ]);
  return id;
}

/**
 * Runs the backfill's chunks here (the app's runner may run some too: a chunk at a time, whoever
 * holds the backfill's lock), telling `show` how far it is after each chunk; returns the closing
 * line once it is no longer running. One that failed throws its error; one paused or cancelled
 * meanwhile (REST) ends the wait.
 */
export async function waitForBackfill(sql: Sql, id: string, show: (backfill: Backfill) => void): Promise<string> {
  let shownAt = 0;
  const look = async () => {
    const backfill = (await getBackfill(sql, id))!;
    shownAt = Date.now();
    show(backfill);
    return backfill;
  };
  // Between chunks now and then: each look is a round trip on the chunks' connection.
  const lookNowAndThen = () => {
    if (Date.now() - shownAt >= SHOW_EVERY_MS) look().catch(() => undefined); // the next chunk says what is wrong
  };
  let backfill = await look();
  while (backfill.state === 'running') {
    const last = await runChunks((maxRows) => backfillChunk(sql, id, maxRows), backfill.chunkSize || MIN_CHUNK, () => true, lookNowAndThen);
    if (!last) await new Promise((resolve) => setTimeout(resolve, WATCH_MS));
    backfill = await look();
  }
  if (backfill.state === 'failed') throw new Error(`backfill ${id} of ${backfill.table} failed: ${backfill.error}`);
  const seconds = ((backfill.finishedAt ?? new Date()).getTime() - backfill.createdAt.getTime()) / 1000;
  return `backfill ${id} of ${backfill.table} ${backfill.state}: ${backfill.rowsDone} rows in ${seconds.toFixed(1)} s`;
}
