import { WakeableSleep } from './wakeable-sleep.js';

export interface BackgroundReadingOptions {
  /** Pause between the end of one read and the start of the next. */
  everyMs: number;
  /** A read that has not answered within this counts as failed (it is not cancelled). */
  timeoutMs: number;
}

/**
 * A value read from the database in the background, one read at a time, so that whoever asks for it
 * (a probe, a scrape) answers at once from the latest reading and never waits on a slow query. A
 * read that hangs holds up only the next reading, never a caller.
 */
export class BackgroundReading<T> {
  private latestValue: { value: T } | undefined;
  private answered = false;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly sleeper = new WakeableSleep();

  constructor(
    private readonly read: () => Promise<T>,
    private readonly options: BackgroundReadingOptions,
  ) {}

  /** Reads once (waiting at most `timeoutMs` for it), then goes on reading in the background. */
  async start(): Promise<void> {
    const first = this.refresh();
    this.running = first.then(() => this.loop());
    await Promise.race([first, new Promise((resolve) => setTimeout(resolve, this.options.timeoutMs).unref())]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.running;
  }

  /** Whether the latest read answered (within `timeoutMs`). */
  get ok(): boolean {
    return this.answered;
  }

  /** The latest value read, however old (undefined before the first answer). */
  get latest(): T | undefined {
    return this.latestValue?.value;
  }

  /** The latest value while reads answer; undefined once one failed or timed out. */
  get current(): T | undefined {
    return this.answered ? this.latestValue?.value : undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.sleeper.sleep(this.options.everyMs);
      if (!this.stopped) await this.refresh();
    }
  }

  private async refresh(): Promise<void> {
    let settled = false;
    const timer = setTimeout(() => {
      if (!settled) this.answered = false;
    }, this.options.timeoutMs);
    timer.unref();
    try {
      const value = await this.read();
      this.latestValue = { value };
      this.answered = true;
    } catch {
      this.answered = false;
    } finally {
      settled = true;
      clearTimeout(timer);
    }
  }
}
