import { Logger } from '@nestjs/common';
import { backoff } from '../common/backoff.js';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { StoredNotification } from '../events/event-catalog.js';

/**
 * Follows the log on this instance (registered with LiveTail.listen). Its contract:
 * - it is called with every notification the log gets after it registered, in ascending id order,
 *   each in exactly one call that returns normally; a call's notifications follow on from the last
 *   such call's (never an empty call);
 * - a call that throws counts as not made: the listener is called again, from the log, with the
 *   notifications after the last call that returned (so it keeps no partial effect of a call that
 *   threw, or drops the ids it has seen), with a backoff while it keeps throwing. Meanwhile every
 *   other listener, and the drainer, go on;
 * - it is synchronous: the tail does not wait for what it starts (a push, a wake-up).
 */
export type TailListener = (notifications: readonly StoredNotification[]) => void;

/** Where a listener that fell behind catches up from: the log. */
export interface TailSource {
  readAfter(after: bigint, limit: number): Promise<StoredNotification[]>;
}

interface Entry {
  name: string;
  listener: TailListener;
  /** Whether it wants notifications now (see listen). */
  wants: () => boolean;
  /** Set while the listener catches up from the log: the id of the last notification it took. */
  behind?: bigint;
  /** Cut short by stop(). */
  sleep: WakeableSleep;
}

const PAGE = 1000;
const MAX_BACKOFF_MS = 5_000;

/**
 * The tail's listeners: hands each of them each batch the tail dispatches, isolates one that
 * throws, and brings it back in step from the log.
 */
export class TailListeners {
  private readonly entries = new Map<string, Entry>();
  private readonly catchingUp = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly source: TailSource,
    /** The id of the last notification the tail dispatched: a listener in step has taken it. */
    private readonly position: () => bigint,
    private readonly logger: Logger,
  ) {}

  /**
   * Registers `listener` under a name (for the logs; one listener per name); returns its removal.
   * While `wants` says no (no client subscribed here, no sink delivered here), the tail may move
   * on without reading what it passes: the listener is not called for those notifications, and
   * whatever it starts later begins from the log.
   */
  listen(name: string, listener: TailListener, wants: () => boolean = () => true): () => void {
    if (this.entries.has(name)) throw new Error(`a tail listener named ${name} is registered already`);
    const entry: Entry = { name, listener, wants, sleep: new WakeableSleep() };
    this.entries.set(name, entry);
    return () => {
      if (this.entries.get(name) === entry) this.entries.delete(name);
      entry.sleep.wake();
    };
  }

  /** Whether any listener in step wants notifications now: else the tail need not read them. */
  get wanted(): boolean {
    for (const entry of this.entries.values()) if (entry.behind === undefined && entry.wants()) return true;
    return false;
  }

  /**
   * The tail's next notifications (ascending, following on from position()), to every listener in
   * step; one that throws is left behind at position() and catches up from the log.
   */
  dispatch(notifications: readonly StoredNotification[]): void {
    const before = this.position();
    for (const entry of this.entries.values()) {
      if (entry.behind !== undefined) continue; // it catches up from the log, these included
      if (!this.call(entry, notifications)) {
        entry.behind = before;
        this.catchUp(entry);
      }
    }
  }

  /** Ends the catching up (a listener left behind stays behind). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const entry of this.entries.values()) entry.sleep.wake();
    await Promise.all(this.catchingUp);
  }

  private call(entry: Entry, notifications: readonly StoredNotification[]): boolean {
    try {
      entry.listener(notifications);
      return true;
    } catch (error) {
      this.logger.warn(`tail listener ${entry.name} failed on ${notifications[0].id}…${notifications[notifications.length - 1].id} (${describe(error)}); it catches up from the log`);
      return false;
    }
  }

  /**
   * Reads the log after the listener's last notification, up to what the tail has dispatched, and
   * calls it with each page; back in step (synchronously, right after the call that reached the
   * tail's position), it gets the tail's batches again.
   */
  private catchUp(entry: Entry): void {
    const run = (async () => {
      let failures = 1;
      while (!this.stopped && this.entries.get(entry.name) === entry) {
        // After a failure (the call that left it behind, too), wait; after a page, go on at once.
        if (failures) await entry.sleep.sleep(backoff(failures, { maxMs: MAX_BACKOFF_MS }));
        if (this.stopped || this.entries.get(entry.name) !== entry) return;
        try {
          // Everything up to `upTo` committed before it was dispatched: this read sees all of it.
          const upTo = this.position();
          const page = await this.source.readAfter(entry.behind!, PAGE);
          const due = page.filter((notification) => BigInt(notification.id) <= upTo);
          if (due.length && !this.call(entry, due)) {
            failures++;
            continue;
          }
          // A short page has all there is up to upTo (ids may skip: a row the log leaves out).
          entry.behind = page.length < PAGE || due.length < page.length ? upTo : BigInt(due[due.length - 1].id);
          failures = 0;
          if (entry.behind >= this.position()) {
            entry.behind = undefined;
            this.logger.log(`tail listener ${entry.name} is in step again`);
            return;
          }
        } catch (error) {
          failures++;
          this.logger.warn(`tail listener ${entry.name}: reading the log failed (${describe(error)})`);
        }
      }
    })();
    this.catchingUp.add(run);
    void run.finally(() => this.catchingUp.delete(run));
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
