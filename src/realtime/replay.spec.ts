import { describe, expect, it } from 'vitest';
import { storedNotification } from '../../test/support/notifications.js';
import { replayUntilLive, ReplayTarget } from './replay.js';

const notification = (id: number) => storedNotification({ id: String(id) });

/**
 * The log and the feed in memory, with the feed able to commit and dispatch while a replay's read
 * is under way: the rule is about that interleaving, not about SQL (the e2e specs cover the SQL).
 */
function world(stored: number) {
  const log: number[] = Array.from({ length: stored }, (_, i) => i + 1);
  const feed = { lastId: BigInt(stored) };
  const received: number[] = [];
  let live = false;
  let position = 0n;
  const client: ReplayTarget = {
    get position() {
      return position;
    },
    set position(id) {
      position = id;
    },
    connected: () => true,
    wants: () => true,
    send: (n) => received.push(Number(n.id)),
    writable: async () => undefined,
    expired: () => {
      throw new Error('not expected');
    },
    goLive: () => (live = true),
  };
  /** The feed commits `count` more and dispatches them; a live client gets those above its position. */
  const dispatch = (count: number) => {
    const first = log.length + 1;
    for (let id = first; id < first + count; id++) log.push(id);
    for (let id = first; id < first + count; id++) {
      if (live && BigInt(id) > position) {
        received.push(id);
        position = BigInt(id);
      }
    }
    feed.lastId = BigInt(log.length);
  };
  return { log, feed, client, received, dispatch, isLive: () => live };
}

describe('replayUntilLive (the replay → live hand-over)', () => {
  it.each([
    ['before the read takes its snapshot', 'before'],
    ['after the read took its snapshot', 'after'],
  ])('misses nothing and repeats nothing when the feed dispatches %s', async (_, when) => {
    const w = world(1_200);
    let reads = 0;
    const source = {
      readAfter: async (after: bigint, limit: number) => {
        reads++;
        // On the third read the feed commits and dispatches 50 more, before or after the snapshot.
        if (reads === 3 && when === 'before') w.dispatch(50);
        const page = w.log.filter((id) => BigInt(id) > after).slice(0, limit).map(notification);
        if (reads === 3 && when === 'after') w.dispatch(50);
        return page;
      },
      purgedThrough: async () => 0n,
    };
    await replayUntilLive(w.client, source, w.feed, 500);
    expect(w.isLive()).toBe(true);
    w.dispatch(10);
    expect(w.received).toEqual(Array.from({ length: 1_260 }, (_, i) => i + 1));
  });

  it('moves past ids that no longer exist instead of waiting for them', async () => {
    const w = world(0);
    w.feed.lastId = 40n; // ids up to 40 were given, then deleted
    const source = { readAfter: async () => [], purgedThrough: async () => 0n };
    await replayUntilLive(w.client, source, w.feed, 500);
    expect(w.isLive()).toBe(true);
    expect(w.client.position).toBe(40n);
  });

  it('tells the client when retention deleted what it had not been sent yet', async () => {
    const w = world(10);
    let told = false;
    const client = { ...w.client, position: 0n, expired: () => (told = true), goLive: () => undefined };
    const source = { readAfter: async () => [notification(8)], purgedThrough: async () => 7n };
    await replayUntilLive(client, source, w.feed, 500);
    expect(told).toBe(true);
  });
});
