/**
 * A sleep that a NOTIFY, a broken connection or shutdown can cut short. A wake-up that arrives
 * while nobody sleeps is remembered, so the next sleep returns at once instead of missing it.
 */
export class WakeableSleep {
  private endSleep: (() => void) | undefined;
  private wakeRequested = false;

  wake(): void {
    this.wakeRequested = true;
    this.endSleep?.();
  }

  /** Forgets a wake-up nobody slept through (before a backoff, which only shutdown may cut short). */
  forget(): void {
    this.wakeRequested = false;
  }

  sleep(ms: number): Promise<void> {
    if (this.wakeRequested) {
      this.wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.endSleep = undefined;
        this.wakeRequested = false;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.endSleep = finish;
    });
  }
}

/** Exponential backoff with jitter: half to all of 100 ms × 2^(failures−1), at most maxMs. */
export function backoff(failures: number, maxMs: number): number {
  const base = Math.min(maxMs, 100 * 2 ** Math.min(failures - 1, 10));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}
