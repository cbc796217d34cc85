import { Logger } from '@nestjs/common';
import { WakeableSleep } from '../database/wakeable-sleep.js';

/**
 * Background work on the log done in bounded steps (retention, indexing): a run takes steps until
 * one has nothing to do, each followed by a pause as long as it took, so writers and the drainer
 * never share the tables with long transactions and memory stays flat. Runs start `firstAfterMs`
 * after start (not with start-up's work), then every `everyMs`; one at a time; stop() cuts a pause
 * short and waits for the step under way.
 */
export class SteppedJob<Total> {
  private timers: NodeJS.Timeout[] = [];
  private running: Promise<unknown> | undefined;
  private stopping = false;
  private readonly pause = new WakeableSleep();

  constructor(
    private readonly options: {
      name: string;
      logger: Logger;
      firstAfterMs: number;
      everyMs: number;
      /** Whether the timer's runs are this instance's to make now (left out: always). */
      due?: () => boolean;
      /** Whether a timer's run takes another step after one (left out: always): false ends the run, more urgent work waits. */
      goOn?: () => boolean;
      /** One step (its own transaction): what it did, or undefined when there was nothing to do. */
      step: () => Promise<Total | undefined>;
      /** Adds a step's work to the run's. */
      add: (total: Total | undefined, step: Total) => Total;
      /** What to log at the end of a run that did something (nothing when empty). */
      describe: (total: Total) => string;
    },
  ) {}

  start(): void {
    const run = () => {
      if (this.running || (this.options.due && !this.options.due())) return;
      this.run(true).catch((error: unknown) => this.options.logger.warn(`${this.options.name} failed: ${String(error)}`));
    };
    this.timers = [setTimeout(run, this.options.firstAfterMs), setInterval(run, this.options.everyMs)];
    for (const timer of this.timers) timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.pause.wake();
    await this.running;
  }

  /**
   * Takes steps until one has nothing to do, starting when the run under way (if any) has ended,
   * as it may have looked before what the caller wants done; returns what they did (undefined: nothing).
   * A timer's run (`timed`) also ends when `goOn` says so.
   */
  run(timed = false): Promise<Total | undefined> {
    const next = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.steps(timed));
    this.running = next;
    void next.catch(() => undefined).finally(() => {
      if (this.running === next) this.running = undefined;
    });
    return next;
  }

  private async steps(timed: boolean): Promise<Total | undefined> {
    let total: Total | undefined;
    while (!this.stopping) {
      const started = performance.now();
      const step = await this.options.step();
      if (step === undefined) break;
      total = this.options.add(total, step);
      await this.pause.sleep(performance.now() - started);
      if (timed && this.options.goOn && !this.options.goOn()) break;
    }
    const said = total === undefined ? '' : this.options.describe(total);
    if (said) this.options.logger.log(said);
    return total;
  }
}
