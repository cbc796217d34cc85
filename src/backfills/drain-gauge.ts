import type { StoredNotification } from '../events/event-catalog.js';

/** What the gauge reads of the drainer: the batches it appends to the log, right after each commit. */
export interface DrainView {
  onAppended(listener: (notifications: readonly StoredNotification[], tookMs: number) => void): () => void;
}

/**
 * Each running backfill's reads that its chunks committed and the drainer has not yet appended to
 * the log, counted exactly and with no statement: the chunk says how many it wrote, and each batch
 * the drainer appends says which reads it holds (a read names its backfill). A live change that
 * commits after a chunk waits for the chunk's reads to be drained (the drainer takes the journal in
 * commit order), so the runner waits for them too before its next chunk, and sizes its chunks by
 * what draining them cost (chunks.ts): a live change then waits behind one chunk's reads, at most.
 * That cost is each read's share of the time of the batch that carried it: the wait for the drain
 * includes the drainer's round for whatever else it was doing, which a smaller chunk does not shorten.
 *
 * The drainer may append a chunk's reads before the chunk's answer reaches the runner, so a count
 * goes below zero for a moment; it never waits for reads it cannot see (a read the log leaves out,
 * a drain that moved to another instance): a wait ends after `maxMs` and forgets them.
 */
export class DrainGauge {
  /** Per backfill (its id): reads written less reads seen in the log. */
  private readonly unlogged = new Map<string, number>();
  /** Per backfill: the drain time its reads cost since the last wait ended. */
  private readonly cost = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private stopped = false;

  constructor(drainer: DrainView) {
    drainer.onAppended((notifications, tookMs) => this.appended(notifications, tookMs));
  }

  /** From now on, counts backfill `id`'s reads as they reach the log (before its first chunk). */
  track(id: string): void {
    this.unlogged.set(id, 0);
    this.cost.set(id, 0);
  }

  /** Stops counting `id`'s reads. */
  forget(id: string): void {
    this.unlogged.delete(id);
    this.cost.delete(id);
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

  /**
   * Resolves once every read of backfill `id` written so far is in the log, or after `maxMs` (then
   * the reads not seen are forgotten), or at stop(); with the drain time those reads cost (their
   * share of the batches that carried them), or the time waited when that is more than maxMs.
   */
  async logged(id: string, maxMs: number): Promise<number> {
    const waited = await this.wait(id, maxMs);
    const cost = this.cost.get(id) ?? 0;
    if (this.cost.has(id)) this.cost.set(id, 0);
    return waited >= maxMs ? waited : cost;
  }

  private async wait(id: string, maxMs: number): Promise<number> {
    const started = performance.now();
    if (this.behind(id) === 0 || this.stopped) return 0;
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
    return performance.now() - started;
  }

  /** Ends every wait now, and every later one at once (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const done of [...this.waiters]) done();
  }

  private appended(notifications: readonly StoredNotification[], tookMs: number): void {
    if (this.unlogged.size === 0) return;
    const perRow = tookMs / notifications.length;
    for (const { payload } of notifications) {
      if (payload.op !== 'READ' || payload.backfill === undefined) continue;
      const unlogged = this.unlogged.get(payload.backfill);
      if (unlogged === undefined) continue;
      this.unlogged.set(payload.backfill, unlogged - 1);
      this.cost.set(payload.backfill, (this.cost.get(payload.backfill) ?? 0) + perRow);
    }
    for (const done of [...this.waiters]) done();
  }
}
