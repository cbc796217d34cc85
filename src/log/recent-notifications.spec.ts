import { describe, expect, it } from 'vitest';
import { StoredNotification } from '../events/event-catalog.js';
import { storedNotification } from '../../test/support/notifications.js';
import { RecentNotifications } from './recent-notifications.js';

const notifications = (from: number, to: number): StoredNotification[] =>
  Array.from({ length: to - from + 1 }, (_, i) => storedNotification({ id: String(from + i) }));
const ids = (found: StoredNotification[] | undefined) => found?.map((n) => Number(n.id));

describe('RecentNotifications', () => {
  it('gives the page after a position from what it keeps, up to the limit', () => {
    const recent = new RecentNotifications(100);
    recent.append(notifications(11, 20));
    recent.append(notifications(21, 30));
    expect(ids(recent.after(10n, 5))).toEqual([11, 12, 13, 14, 15]);
    expect(ids(recent.after(25n, 100))).toEqual([26, 27, 28, 29, 30]);
  });

  it('says it does not have what is older than it keeps, or newer than it was given', () => {
    const recent = new RecentNotifications(10);
    expect(recent.after(0n, 10)).toBeUndefined();
    recent.append(notifications(1, 25));
    expect(ids(recent.after(15n, 100))).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect(recent.after(14n, 100)).toBeUndefined(); // 15 was let go: the log has it
    expect(recent.after(25n, 100)).toBeUndefined(); // nothing newer here: the log may have it
    expect(recent.after(40n, 100)).toBeUndefined();
  });

  it('keeps the latest `capacity`, letting the oldest go once it holds twice as many', () => {
    const recent = new RecentNotifications(10);
    for (let id = 1; id <= 20; id++) recent.append(notifications(id, id));
    expect(ids(recent.after(0n, 100))).toHaveLength(20);
    recent.append(notifications(21, 21));
    expect(recent.after(10n, 100)).toBeUndefined();
    expect(ids(recent.after(11n, 100))).toEqual([12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
  });

  it('starts afresh from notifications that do not follow on, so what it gives never has a gap', () => {
    const recent = new RecentNotifications(100);
    recent.append(notifications(1, 10));
    recent.append(notifications(15, 20));
    expect(recent.after(5n, 100)).toBeUndefined();
    expect(recent.after(10n, 100)).toBeUndefined();
    expect(ids(recent.after(14n, 100))).toEqual([15, 16, 17, 18, 19, 20]);
  });
});
