import type { Backlog, DrainerStatus } from '../log/log-drainer.js';

/** What the gauge reads of the drainer: its backlog reading (refreshed every second) and its count of rows drained. */
export interface DrainView {
  backlog(): { current: Backlog | undefined };
  getStatus(): Pick<DrainerStatus, 'drained'>;
}

/**
 * Journal rows not yet in the log, as the runner reckons them before each chunk, with no statement
 * of its own: the drainer's latest backlog reading, plus the reads the runner wrote since, less
 * the rows the drainer moved since. The reading alone is a second old at worst, and a runner
 * writes tens of thousands of reads in a second; counting in between keeps the bound near what it
 * says. Unknown (no reading, or the last one failed) counts as nothing behind: the gauge slows a
 * backfill, it must never stop one.
 */
export class DrainGauge {
  private reading: Backlog | undefined;
  private ahead = 0;
  private drained: number;

  constructor(private readonly drainer: DrainView) {
    this.drained = drainer.getStatus().drained;
  }

  /** A chunk committed `rows` reads into the journal. */
  wrote(rows: number): void {
    this.ahead += rows;
  }

  /** Journal rows not yet in the log, about. */
  behind(): number {
    const { current } = this.drainer.backlog();
    const drained = this.drainer.getStatus().drained;
    if (current !== this.reading) {
      // A new reading: it saw every read committed before it was taken.
      this.reading = current;
      this.ahead = current?.backlog ?? 0;
    } else {
      this.ahead = Math.max(0, this.ahead - (drained - this.drained));
    }
    this.drained = drained;
    return this.reading ? this.ahead : 0;
  }
}
