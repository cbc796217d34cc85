import { StoredNotification } from '../events/event-catalog.js';

/**
 * The newest notifications this instance's feed dispatched, in id order without a gap: a sink that
 * keeps up reads its next page here instead of from the log (the feed already read it, or the
 * drainer handed it over), so live delivery costs the database nothing per sink. Bounded by count
 * (the latest `capacity`, and up to as many again before it lets the oldest go, so that appending
 * one notification does not copy the rest): a sink further behind reads the log, as before.
 */
export class RecentNotifications {
  private items: StoredNotification[] = [];
  /** The id of items[0]. */
  private first = 0n;

  constructor(private readonly capacity: number) {}

  /** The feed's next notifications (ascending ids); ones that do not follow on start it afresh. */
  append(notifications: readonly StoredNotification[]): void {
    if (notifications.length === 0) return;
    const from = BigInt(notifications[0].id);
    if (from !== this.first + BigInt(this.items.length)) {
      this.items = [];
      this.first = from;
    }
    for (const notification of notifications) this.items.push(notification);
    if (this.items.length > 2 * this.capacity) {
      const excess = this.items.length - this.capacity;
      this.items = this.items.slice(excess);
      this.first += BigInt(excess);
    }
  }

  /**
   * Up to `limit` notifications after `after`, when they are all here: undefined when the ids
   * right after it are older than what is kept, or not dispatched yet (the log may have them).
   */
  after(after: bigint, limit: number): StoredNotification[] | undefined {
    const start = after + 1n - this.first;
    if (start < 0n || start >= BigInt(this.items.length)) return undefined;
    return this.items.slice(Number(start), Number(start) + limit);
  }
}
