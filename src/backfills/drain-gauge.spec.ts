import { describe, expect, it } from 'vitest';
import type { StoredNotification } from '../events/event-catalog.js';
import { DrainGauge, QUIET_MS } from './drain-gauge.js';

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
    await sut.logged('7', 60_000);
  });

  it('waits until every read is in the log, at most maxMs (then forgets them), and not once stopped', async () => {
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

    sut.wrote('7', 200);
    const started = performance.now();
    await sut.logged('7', 5);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4);
    expect(sut.behind('7')).toBe(0);

    sut.wrote('7', 10);
    const stopped = sut.logged('7', 60_000);
    sut.stop();
    await stopped;
    expect(sut.behind('7')).toBe(10);
  });

  it('learns what a read costs the drain: its share of the batches that carried many reads', () => {
    const { view, append } = drainer();
    const sut = new DrainGauge(view);
    expect(sut.msPerRead).toBeUndefined();
    append([...batch(1_000, 'READ', '7'), ...batch(1_000, 'INSERT')], 40);
    expect(sut.msPerRead).toBeCloseTo(0.02);
    append(batch(10, 'INSERT'), 500);
    append([...batch(10, 'READ', '7'), ...batch(10, 'INSERT')], 20);
    expect(sut.msPerRead).toBeCloseTo(0.02);
    append(batch(1_000, 'READ', '7'), 10);
    expect(sut.msPerRead).toBeCloseTo(0.015);
    append(batch(1_000, 'READ', '7'), 10);
    expect(sut.msPerRead).toBeCloseTo(0.0125);
  });

  it('tells whether live changes flow: a change that is no backfill’s within QUIET_MS', async () => {
    const { view, append } = drainer();
    const sut = new DrainGauge(view);
    expect(sut.live()).toBe(false);
    append([...batch(10, 'READ', '7'), ...batch(1, 'BACKFILL_STARTED', '7')]);
    expect(sut.live()).toBe(false);
    append(batch(1, 'INSERT'));
    expect(sut.live()).toBe(true);
    expect(sut.live(performance.now() + QUIET_MS)).toBe(false);
  });
});
