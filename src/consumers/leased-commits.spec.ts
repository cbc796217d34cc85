import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeasedMessage } from './consumer-group.js';
import { LeasedCommits } from './leased-commits.js';

function message(leaseId: string, changedAt: string, leasedUntil: number): LeasedMessage {
  return {
    leaseId,
    deliveries: 1,
    leasedUntil: new Date(leasedUntil),
    notification: { id: '1', event: 'invoices.created', tableName: 'invoices', createdAt: new Date(0), payload: { changedAt } } as LeasedMessage['notification'],
  };
}

describe('LeasedCommits', () => {
  afterEach(() => vi.useRealTimers());

  it('gives each lease leased here its commit time once, and nothing for leases it never had', () => {
    const sut = new LeasedCommits();
    sut.leased([message('a', '2026-12-07T08:00:00.000Z', Date.now() + 30_000), message('b', '2026-12-07T08:00:01.000Z', Date.now() + 30_000)]);
    expect(sut.take(['b', 'elsewhere'])).toEqual([Date.parse('2026-12-07T08:00:01.000Z')]);
    expect(sut.take(['b'])).toEqual([]);
    expect(sut.size).toBe(1);
  });

  it('forgets a lease a minute after it ran out, unless it was extended', () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const sut = new LeasedCommits();
    sut.leased([message('expired', '2026-12-07T08:00:00.000Z', 1_030_000), message('extended', '2026-12-07T08:00:00.000Z', 1_030_000)]);
    sut.extended(['extended'], 1_200_000);
    vi.setSystemTime(1_100_000); // 70 s after both leases first ran out
    sut.leased([]);
    expect(sut.take(['expired'])).toEqual([]);
    expect(sut.take(['extended'])).toHaveLength(1);
  });
});
