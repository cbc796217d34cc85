import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { storedNotification } from '../../test/support/notifications.js';
import { waitFor } from '../../test/support/wait.js';
import { StoredNotification } from '../events/event-catalog.js';
import { TailListeners, TailSource } from './tail-listeners.js';

const ids = (calls: (readonly StoredNotification[])[]) => calls.flat().map((n) => Number(n.id));
const upTo = (last: number) => Array.from({ length: last }, (_, i) => i + 1);

/** A log of notifications 1…n and a tail over it that dispatches whatever it is told to. */
function world() {
  const log: StoredNotification[] = [];
  const reads: bigint[] = [];
  const source: TailSource = {
    readAfter: async (after, limit) => {
      reads.push(after);
      return log.filter((n) => BigInt(n.id) > after).slice(0, limit);
    },
  };
  let position = 0n;
  const sut = new TailListeners(source, () => position, new Logger('test', { timestamp: false }));
  Logger.overrideLogger(false);
  return {
    sut,
    reads,
    /** Commits notifications up to `last` to the log and dispatches them as the tail does. */
    append(last: number) {
      const batch = Array.from({ length: last - Number(position) }, (_, i) => storedNotification({ id: String(Number(position) + i + 1) }));
      log.push(...batch);
      sut.dispatch(batch);
      position = BigInt(last);
    },
  };
}

describe('TailListeners', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => stop?.());

  it('gives every listener each notification once, in id order, in the batches the tail dispatches', () => {
    const w = world();
    const a: (readonly StoredNotification[])[] = [];
    const b: (readonly StoredNotification[])[] = [];
    w.sut.listen('a', (batch) => a.push(batch));
    w.sut.listen('b', (batch) => b.push(batch));
    w.append(3);
    w.append(5);
    expect(a.map((batch) => batch.length)).toEqual([3, 2]);
    expect(ids(a)).toEqual(upTo(5));
    expect(ids(b)).toEqual(upTo(5));
    expect(w.reads).toEqual([]); // in step: nothing read back
  });

  it('isolates a listener that throws once and brings it back in step from the log, without a gap or a repeat', async () => {
    const w = world();
    stop = () => w.sut.stop();
    const flaky: (readonly StoredNotification[])[] = [];
    const steady: (readonly StoredNotification[])[] = [];
    let failures = 0;
    w.sut.listen('flaky', (batch) => {
      if (batch[0].id === '4' && failures === 0) {
        failures++;
        throw new Error('push failed');
      }
      flaky.push(batch);
    });
    w.sut.listen('steady', (batch) => steady.push(batch));
    w.append(3);
    w.append(5); // flaky throws: steady still gets it
    w.append(8); // flaky is behind: not called with this one
    expect(ids(steady)).toEqual(upTo(8));
    expect(ids(flaky)).toEqual(upTo(3));

    // It catches up from the log after its last good notification (3), up to what the tail dispatched.
    await waitFor(() => ids(flaky).length === 8, { what: 'flaky to catch up' });
    expect(ids(flaky)).toEqual(upTo(8));
    expect(w.reads).toEqual([3n]);
    // Back in step: the tail's next batch comes to it directly.
    w.append(10);
    expect(ids(flaky)).toEqual(upTo(10));
    expect(ids(steady)).toEqual(upTo(10));
    expect(failures).toBe(1);
  });

  it('keeps a listener that goes on throwing behind (retrying) while the others go on, and never skips it ahead', async () => {
    const w = world();
    stop = () => w.sut.stop();
    const got: (readonly StoredNotification[])[] = [];
    let broken = true;
    let attempts = 0;
    w.sut.listen('broken', (batch) => {
      attempts++;
      if (broken) throw new Error('down');
      got.push(batch);
    });
    w.append(2);
    await waitFor(() => attempts >= 3, { what: 'two retries' });
    w.append(4);
    expect(got).toEqual([]);
    broken = false;
    await waitFor(() => ids(got).length === 4, { what: 'the listener to catch up' });
    expect(ids(got)).toEqual(upTo(4));
  });

  it('does not call a listener after its removal', () => {
    const w = world();
    const got: (readonly StoredNotification[])[] = [];
    const remove = w.sut.listen('a', (batch) => got.push(batch));
    w.append(1);
    remove();
    w.append(2);
    expect(ids(got)).toEqual([1]);
    expect(() => w.sut.listen('b', () => undefined)).not.toThrow();
    expect(() => w.sut.listen('b', () => undefined)).toThrow(/registered already/);
  });
});
