/** What a backfill is doing: running chunks, held (paused), or finished one way or another. */
export const BACKFILL_STATES = ['running', 'paused', 'cancelled', 'completed', 'failed'] as const;
export type BackfillState = (typeof BACKFILL_STATES)[number];

/** A backfill as its table (capture.backfills) holds it. */
export interface Backfill {
  id: string;
  table: string;
  key: string[];
  where: Record<string, string | number | boolean | null> | null;
  /** The sinks (ids) its reads and events are for; null: whoever names `<table>.read`. */
  destinations: string[] | null;
  endKey: Record<string, unknown> | null;
  cursor: Record<string, unknown> | null;
  rowsDone: number;
  estimate: number;
  chunkSize: number;
  state: BackfillState;
  error: string | null;
  actor: string;
  createdAt: Date;
  updatedAt: Date;
  /** Since the start or the last resume, with rowsDone then: the rate leaves pauses out. */
  resumedAt: Date;
  rowsAtResume: number;
  finishedAt: Date | null;
}

/**
 * Rows per second since the start or the last resume (to the end when it finished), and the
 * seconds left at that rate; null when not known yet (nothing read) or not running.
 */
export function progress(backfill: Backfill, now: Date = new Date()): { rate: number | null; etaSeconds: number | null } {
  const until = backfill.finishedAt ?? (backfill.state === 'running' ? now : backfill.updatedAt);
  const seconds = (until.getTime() - backfill.resumedAt.getTime()) / 1000;
  const rows = backfill.rowsDone - backfill.rowsAtResume;
  const rate = seconds > 0 && rows > 0 ? rows / seconds : null;
  const eta = backfill.state === 'completed' ? 0 : backfill.state === 'running' && rate ? Math.max(0, backfill.estimate - backfill.rowsDone) / rate : null;
  return { rate: rate === null ? null : Math.round(rate), etaSeconds: eta === null ? null : Math.ceil(eta) };
}
