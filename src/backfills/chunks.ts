import type { Sql } from '../database/sql.js';
import type { BackfillState } from './backfill.js';

/**
 * How long a chunk may hold its row locks, aimed at: issue 19 asks ≤ 50 ms. On a busy core the
 * slowest chunks take about 2.5 times the typical one (the benchmark: p50 40 ms, p99 94–102 ms when
 * aimed at 40), so the typical one is aimed well below.
 */
export const CHUNK_TARGET_MS = 20;
/**
 * What a chunk and draining its reads may cost together, aimed at, while live changes flow: a live
 * change that commits while a chunk runs shares the core with it, and one that commits after it
 * waits behind its reads (issue 19: live p99 ≤ 20 ms above without a backfill). From the drain's
 * measured cost per read (DrainGauge) and the last chunk's, so it follows this machine now.
 */
export const DRAIN_TARGET_MS = 10;
/**
 * The same while no live change flows: chunks by their lock time, as long as their reads cost the
 * drain at most this. The first live change after a quiet spell waits behind one such chunk, once
 * (the next chunk waits for the last one's reads to be in the log, backfill-runner.ts). A
 * fixed number of rows would not do: on a starved core a read cost the drain 0.7 ms, not 0.03, and
 * 2,000 reads ahead held live changes 1.5 s.
 */
export const QUIET_DRAIN_MS = 40;
export const MIN_CHUNK = 10;
export const MAX_CHUNK = 10_000;

/** A chunk's outcome: rows read, and the backfill's state after it. */
export interface ChunkResult {
  read: number;
  state: BackfillState;
  /**
   * How long the chunk's transaction ran in PostgreSQL, its commit aside: about how long it held its
   * row locks. Undefined: size by the round trip.
   */
  heldMs?: number;
}

/**
 * One chunk of at most `maxRows` rows (capture.backfill_chunk), in its own transaction: one
 * statement. Undefined when another runner holds the backfill.
 *
 * The transaction commits without waiting for its WAL flush (synchronous_commit off, for it alone):
 * a synchronous commit holds the chunk's row locks, and the runner's next chunk, through a disk
 * flush per chunk. Nothing is risked: whatever could see the reads flushes them first (the drainer's
 * commit that puts them in the log, a writer's commit after waiting for one of the rows: both come
 * later in the WAL), and a crash before the flush loses the reads together with the cursor's move,
 * so the chunk is read again from the cursor. The time is taken as the function returns, so the
 * runner sizes chunks by the time locks are held, not by the round trip through a busy app.
 */
export async function backfillChunk(sql: Sql, id: string, maxRows: number): Promise<ChunkResult | undefined> {
  const [row] = await sql<ChunkResult>(
    `SELECT c.read, c.state, extract(epoch FROM clock_timestamp() - now())::float8 * 1000 AS "heldMs"
     FROM set_config('synchronous_commit', 'off', true) AS async, capture.backfill_chunk($1, $2) c`,
    [id, maxRows],
  );
  return row;
}

/**
 * The next chunk's size from the last one's: scaled towards CHUNK_TARGET_MS, at most halved or
 * doubled at a time. A chunk that read fewer rows than asked (the end, a sparse where, a cap) and
 * was quick says nothing about a bigger one; a slow one shrinks whatever it read.
 */
export function nextChunkSize(size: number, tookMs: number, read: number): number {
  if (tookMs <= CHUNK_TARGET_MS && read < size) return size;
  const scaled = (size * CHUNK_TARGET_MS) / Math.max(tookMs, 1);
  return Math.round(Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, size / 2, Math.min(size * 2, scaled))));
}

/** At most the rows whose reads cost the drain `drainMs`, at `msPerRead` (unknown: `rows`), and `least` at least. */
export function drainCapped(rows: number, msPerRead: number | undefined, drainMs: number, least = MIN_CHUNK): number {
  if (!msPerRead) return rows;
  return Math.max(Math.min(least, rows), Math.min(rows, Math.floor(drainMs / msPerRead)));
}

/**
 * The rows the next chunk may read, from `rows` (its size by lock time): while live changes flow, a
 * live change that commits while the chunk runs shares the core with it, and one that commits after
 * it waits behind its reads, so the chunk's own time per read (`chunkMsPerRead`, the last chunk's)
 * and its reads' drain (`drainMsPerRead`, DrainGauge) count together towards DRAIN_TARGET_MS; while
 * none flow, the drain's alone towards QUIET_DRAIN_MS. At least `least` (drainCapped); `rows` as it is
 * while the drain's cost is unknown.
 */
export function chunkCap(rows: number, live: boolean, drainMsPerRead: number | undefined, chunkMsPerRead: number | undefined, least: number): number {
  if (!live) return drainCapped(rows, drainMsPerRead, QUIET_DRAIN_MS, least);
  return drainCapped(rows, drainMsPerRead === undefined ? undefined : drainMsPerRead + (chunkMsPerRead ?? 0), DRAIN_TARGET_MS, least);
}

/**
 * Runs a backfill's chunks one after another, from `size` rows, each sized from the last one's
 * time (in PostgreSQL when the chunk says it, else the round trip), while `go()` says so. Returns the last chunk's outcome: not `running` once the backfill
 * completed, was paused, cancelled or failed; undefined when another runner holds it.
 */
export async function runChunks(
  chunk: (maxRows: number) => Promise<ChunkResult | undefined>,
  size: number,
  go: () => boolean,
  onChunk?: (result: ChunkResult) => void,
): Promise<ChunkResult | undefined> {
  let last: ChunkResult | undefined;
  while (go()) {
    const started = performance.now();
    last = await chunk(size);
    if (!last) return undefined;
    onChunk?.(last);
    if (last.state !== 'running') return last;
    size = nextChunkSize(size, last.heldMs ?? performance.now() - started, last.read);
  }
  return last;
}
