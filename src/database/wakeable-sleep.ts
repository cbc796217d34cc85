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
