import type { StoredNotification } from '../events/event-catalog.js';

/** What the gauge reads of the drainer: the batches it appends to the log, right after each commit, with their time. */
export interface DrainView {
  onAppended(listener: (notifications: readonly StoredNotification[], tookMs: number) => void): () => void;
}

/** How long after the last live change the drain counts as carrying none. */
export const QUIET_MS = 1_000;
/**
 * Reads a batch must carry to say what a read costs: a batch's time is mostly fixed (its statement,
 * its commit's flush) when it carries few rows, and a small batch taken as the measure would cap the
 * next chunks smaller still (the benchmark: chunks of 10 rows at 0.9 ms a read).
 */
export const MIN_SAMPLE = 100;

/**
 * Each running backfill's reads that its chunks committed and the drainer has not yet appended to
 * the log, counted exactly and with no statement: the chunk says how many it wrote, and each batch
 * the drainer appends says which reads it holds (a read names its backfill). Beside it, what a read
 * costs the drain (its share of the time of the batch that carried it), and whether live changes
 * are flowing (any notification that is no backfill's, in the last QUIET_MS).
 *
 * A live change that commits after a chunk waits for the chunk's reads to be drained (the drainer
 * takes the journal in commit order); the runner uses the gauge to keep that wait short while live
 * changes flow, and to go at full speed while none do (backfill-runner.ts).
 *
 * The drainer may append a chunk's reads before the chunk's answer reaches the runner, so a count
 * goes below zero for a moment; it never waits for reads it cannot see (a read the log leaves out,
 * a drain that moved to another instance): a wait ends after `maxMs` and forgets them.
 */
export class DrainGauge {
  /** Per backfill (its id): reads written less reads seen in the log. */
  private readonly unlogged = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  /** What a read cost the drain, lately (ms): a moving average over batches. */
  private perRead: number | undefined;
  private lastLive = -Infinity;
  private stopped = false;

  constructor(drainer: DrainView) {
    drainer.onAppended((notifications, tookMs) => this.appended(notifications, tookMs));
  }

  /** From now on, counts backfill `id`'s reads as they reach the log (before its first chunk). */
  track(id: string): void {
    this.unlogged.set(id, 0);
  }

  /** Stops counting `id`'s reads. */
  forget(id: string): void {
    this.unlogged.delete(id);
  }

  /** A chunk of backfill `id` committed `rows` reads into the journal. */
  wrote(id: string, rows: number): void {
    const unlogged = this.unlogged.get(id);
    if (unlogged !== undefined) this.unlogged.set(id, unlogged + rows);
  }

  /** Reads of backfill `id` not in the log yet. */
  behind(id: string): number {
    return Math.max(0, this.unlogged.get(id) ?? 0);
  }

  /** What a read costs the drain lately, in ms (its share of its batch's time, from batches of MIN_SAMPLE reads or more); undefined before the first. */
  get msPerRead(): number | undefined {
    return this.perRead;
  }

  /** Whether the drain carried a live change (one that is no backfill's) within QUIET_MS. */
  live(now = performance.now()): boolean {
    return now - this.lastLive < QUIET_MS;
  }

  /**
   * Resolves once every read of backfill `id` is in the log, or after `maxMs` (then the reads not
   * seen are forgotten), or at stop().
   */
  async logged(id: string, maxMs: number): Promise<void> {
    if (this.behind(id) === 0 || this.stopped) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        if (this.behind(id) > 0 && !this.stopped) return;
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        if (this.unlogged.has(id)) this.unlogged.set(id, 0);
        done();
      }, maxMs);
      this.waiters.add(done);
    });
  }

  /** Ends every wait now, and every later one at once (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const done of [...this.waiters]) done();
  }

  private appended(notifications: readonly StoredNotification[], tookMs: number): void {
    let reads = 0;
    for (const { payload } of notifications) {
      if (payload.backfill === undefined) {
        this.lastLive = performance.now();
        continue;
      }
      if (payload.op !== 'READ') continue;
      reads++;
      const unlogged = this.unlogged.get(payload.backfill);
      if (unlogged !== undefined) this.unlogged.set(payload.backfill, unlogged - 1);
    }
    if (reads >= MIN_SAMPLE) {
      // Each read's share of the batch's time; weighted by reads, and never more than half, so that
      // one batch (a stall for the core, a slow flush) does not set it alone.
      const perRead = tookMs / notifications.length;
      const weight = Math.min(0.5, reads / 2_000);
      this.perRead = this.perRead === undefined ? perRead : this.perRead + (perRead - this.perRead) * weight;
    }
    for (const done of [...this.waiters]) done();
  }
}
