import { describe, expect, it } from 'vitest';
import type { StoredNotification } from '../events/event-catalog.js';
import { DrainGauge } from './drain-gauge.js';

/** A drainer as the gauge sees it: batches appended by hand. */
function drainer() {
  type Listener = (notifications: readonly StoredNotification[], tookMs: number) => void;
  const listeners: Listener[] = [];
  return {
    view: { onAppended: (listener: Listener) => (listeners.push(listener), () => undefined) },
    append: (notifications: StoredNotification[], tookMs = 1) => listeners.forEach((listener) => listener(notifications, tookMs)),
  };
}

/** `count` notifications of `op`, of backfill `backfill` (none: a live change). */
const batch = (count: number, op: 'READ' | 'INSERT' | 'BACKFILL_STARTED', backfill?: string): StoredNotification[] =>
  Array.from({ length: count }, (_, i) => ({
    id: String(i + 1),
    event: 'parcels.read',
    tableName: 'parcels',
    createdAt: new Date(),
    payload: { schema: 'public', table: 'parcels', op, pk: null, new: null, old: null, changedColumns: null, actor: 'a', txId: '1', changedAt: '', ...(backfill && { backfill }) },
  }));

describe('DrainGauge', () => {
  it('counts each backfill’s reads written less its reads appended, and nothing else', () => {
    const { view, append } = drainer();
    const sut = new DrainGauge(view);
    sut.track('7');
    sut.track('8');
    sut.wrote('7', 500);
    sut.wrote('8', 40);
    expect([sut.behind('7'), sut.behind('8')]).toEqual([500, 40]);
    append([...batch(300, 'READ', '7'), ...batch(50, 'INSERT'), ...batch(1, 'BACKFILL_STARTED', '7'), ...batch(10, 'READ', '9')]);
    expect([sut.behind('7'), sut.behind('8')]).toEqual([200, 40]);
    append(batch(200, 'READ', '7'));
    expect(sut.behind('7')).toBe(0);
    sut.forget('8');
    expect(sut.behind('8')).toBe(0);
  });

  it('counts reads the drainer appended before the chunk’s answer came back', async () => {
    const { view, append } = drainer();
    const sut = new DrainGauge(view);
    sut.track('7');
    append(batch(100, 'READ', '7'));
    sut.wrote('7', 100);
    expect(sut.behind('7')).toBe(0);
    expect(await sut.logged('7', 60_000)).toBeCloseTo(1);
  });

  it('says what the reads cost the drain: their share of each batch that carried them', async () => {
    const { view, append } = drainer();
    const sut = new DrainGauge(view);
    sut.track('7');
    sut.wrote('7', 300);
    append([...batch(100, 'READ', '7'), ...batch(100, 'INSERT')], 8);
    append(batch(200, 'READ', '7'), 6);
    expect(await sut.logged('7', 60_000)).toBeCloseTo(10);
    // The next chunk's cost starts from nothing.
    sut.wrote('7', 10);
    append([...batch(10, 'READ', '7'), ...batch(90, 'INSERT')], 20);
    expect(await sut.logged('7', 60_000)).toBeCloseTo(2);
  });

  it('waits until the reads are in the log, at most maxMs (then forgets them), and not once stopped', async () => {
    const { view, append } = drainer();
    const sut = new DrainGauge(view);
    sut.track('7');
    sut.wrote('7', 100);
    let done = false;
    const waiting = sut.logged('7', 60_000).then(() => (done = true));
    append(batch(60, 'READ', '7'));
    await Promise.resolve();
    expect(done).toBe(false);
    append(batch(40, 'READ', '7'));
    await waiting;

    sut.wrote('7', 10);
    expect(await sut.logged('7', 5)).toBeGreaterThanOrEqual(5);
    expect(sut.behind('7')).toBe(0);

    sut.wrote('7', 10);
    const stopped = sut.logged('7', 60_000);
    sut.stop();
    await stopped;
    expect(sut.behind('7')).toBe(10);
  });
});
