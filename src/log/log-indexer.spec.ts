import { describe, expect, it } from 'vitest';
import { BUSY_DRAIN_SHARE, IndexPacing, MAX_DEFER_MS } from './log-indexer.js';

/** A drainer whose busy time is set by hand. */
function drainer() {
  const status = { busyMs: 0, reads: 0 };
  return { status, view: { getStatus: () => status } };
}

describe('IndexPacing', () => {
  it('starts runs while the drain is quiet, and waits while it is busy', () => {
    const { status, view } = drainer();
    const sut = new IndexPacing(view, 0);
    status.busyMs += 1_000 * BUSY_DRAIN_SHARE * 0.5;
    expect(sut.mayStart(1_000)).toBe(true);
    status.busyMs += 1_000 * BUSY_DRAIN_SHARE * 2;
    expect(sut.mayStart(2_000)).toBe(false);
    expect(sut.mayStart(3_000)).toBe(true); // nothing drained in that second
  });

  it('waits while the drain carries a backfill’s reads, however quickly', () => {
    const { status, view } = drainer();
    const sut = new IndexPacing(view, 0);
    status.reads += 10;
    expect(sut.mayStart(1_000)).toBe(false);
    expect(sut.mayStart(2_000)).toBe(true);
  });

  it('ends a run after a step during which the drain got busy', () => {
    const { status, view } = drainer();
    const sut = new IndexPacing(view, 0);
    expect(sut.goOn(100)).toBe(true);
    status.busyMs += 50;
    expect(sut.goOn(200)).toBe(false);
  });

  it('takes a step every MAX_DEFER_MS under a drain that stays busy', () => {
    const { status, view } = drainer();
    const sut = new IndexPacing(view, 0);
    const started: number[] = [];
    for (let now = 1_000; now <= MAX_DEFER_MS * 2 + 1_000; now += 1_000) {
      status.busyMs += 900;
      if (sut.mayStart(now)) started.push(now);
    }
    expect(started).toEqual([MAX_DEFER_MS + 1_000, MAX_DEFER_MS * 2 + 1_000]);
  });
});
