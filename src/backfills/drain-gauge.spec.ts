import { describe, expect, it } from 'vitest';
import type { Backlog } from '../log/log-drainer.js';
import { DrainGauge } from './drain-gauge.js';

/** A drainer as the gauge sees it: a reading set by hand, a count of rows drained. */
function drainer() {
  const state = { current: undefined as Backlog | undefined, drained: 100 };
  return { state, view: { backlog: () => ({ current: state.current }), getStatus: () => ({ drained: state.drained }) } };
}

describe('DrainGauge', () => {
  it('counts the reads written since the last reading, less the rows drained since', () => {
    const { state, view } = drainer();
    const sut = new DrainGauge(view);
    state.current = { backlog: 1_000, lagMs: 5 };
    expect(sut.behind()).toBe(1_000);
    sut.wrote(4_000);
    expect(sut.behind()).toBe(5_000);
    state.drained += 3_000;
    expect(sut.behind()).toBe(2_000);
    state.drained += 9_000;
    expect(sut.behind()).toBe(0);
  });

  it('takes a new reading as it is, and counts nothing behind without one', () => {
    const { state, view } = drainer();
    const sut = new DrainGauge(view);
    sut.wrote(10_000);
    expect(sut.behind()).toBe(0);
    state.current = { backlog: 7_000, lagMs: 50 };
    expect(sut.behind()).toBe(7_000);
    sut.wrote(1_000);
    state.current = { backlog: 300, lagMs: 1 };
    expect(sut.behind()).toBe(300);
    state.current = undefined;
    expect(sut.behind()).toBe(0);
  });
});
