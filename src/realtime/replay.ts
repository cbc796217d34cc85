import { StoredNotification } from '../events/event-catalog.js';

/** The stored log, as a replay reads it. */
export interface ReplaySource {
  readAfter(after: bigint, limit: number): Promise<StoredNotification[]>;
  /** The highest id retention has deleted. */
  purgedThrough(): Promise<bigint>;
}

/** The live end: the highest id this instance's feed has dispatched to live clients. */
export interface LiveEnd {
  readonly lastId: bigint;
}

/** The client being replayed to. */
export interface ReplayTarget {
  /** Every notification up to this id has been considered for the client (sent or not). */
  position: bigint;
  connected(): boolean;
  wants(notification: StoredNotification): boolean;
  send(notification: StoredNotification): void;
  /** Resolves when the client has room for another page. */
  writable(): Promise<void>;
  /** Retention deleted notifications the replay had not sent yet. */
  expired(): void;
  /** From now on live pushes carry the client's notifications (ids above its position). */
  goLive(): void;
}

/**
 * Replays the stored log after the target's position, then hands it over to live delivery with no
 * gap and no duplicate. The hand-over rule:
 *
 * 1. While replaying, the client is skipped by live pushes, which still move the live end.
 * 2. The replay reads pages after the client's position. A full page may have more behind it: read
 *    on. A short page (fewer than `pageSize`) held everything stored after the position when it was
 *    read, so the position, once the page is sent, is where the log ended at that read.
 * 3. After a short page, if the position is at or past the live end, everything the feed has
 *    dispatched was covered by the replay: the client goes live in the same synchronous step, so
 *    no dispatch can fall between the check and the switch. Live pushes then carry ids above the
 *    live end, and the client's position drops anything the replay already sent.
 * 4. Otherwise the feed dispatched more while the page was read: read again from the position.
 * 5. An empty page while the position is below the live end as it was before the read means those
 *    ids no longer exist (deleted, or never given): the position moves to that live end.
 * 6. If retention has deleted anything past the position (checked after each page), the page may
 *    have a hole: the client is told (expired) rather than silently skipped.
 */
export async function replayUntilLive(target: ReplayTarget, log: ReplaySource, live: LiveEnd, pageSize: number): Promise<void> {
  while (target.connected()) {
    await target.writable();
    const before = live.lastId; // committed before the read below takes its snapshot
    const page = await log.readAfter(target.position, pageSize);
    if ((await log.purgedThrough()) > target.position) {
      target.expired();
      return;
    }
    for (const notification of page) {
      if (target.wants(notification)) target.send(notification);
      target.position = BigInt(notification.id);
    }
    if (page.length < pageSize) {
      if (page.length === 0 && target.position < before) target.position = before;
      // Synchronous from here to the switch: the feed cannot dispatch in between.
      if (target.position >= live.lastId) {
        target.goLive();
        return;
      }
    }
  }
}
