import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { storedNotification } from '../../test/support/notifications.js';
import { waitFor } from '../../test/support/wait.js';
import { StoredNotification } from '../events/event-catalog.js';
import { Sink } from './sink.js';
import { Checkpoint } from './sink.repository.js';
import { RunnerContext, SinkRunner } from './sink-runner.js';
import { SendResult, SinkMessage, SinkTransport } from './sink-transport.js';

const OWNER = 'this-instance';

/** Keeps what the runner logs (the unsure lease is a warning) instead of printing it. */
class LogLines extends Logger {
  readonly lines: string[] = [];
  override log(message: unknown): void {
    this.lines.push(String(message));
  }
  override warn(message: unknown): void {
    this.lines.push(String(message));
  }
}

/** A receiver that confirms a message unless `refuse` says otherwise (as a transport does: a confirmed prefix). */
class FakeTransport implements SinkTransport {
  readonly sends: { id: string; at: number }[] = [];
  refuse: (id: string) => boolean = () => false;

  async send(messages: readonly SinkMessage[]): Promise<SendResult> {
    for (const [index, message] of messages.entries()) {
      this.sends.push({ id: message.id, at: performance.now() });
      if (this.refuse(message.id)) return { confirmed: index, error: `refused ${message.id}` };
    }
    return { confirmed: messages.length };
  }

  async close(): Promise<void> {}

  ids(): string[] {
    return this.sends.map((send) => send.id);
  }
}

/**
 * The runner's context port with everything in memory: the sink's row (checkpoints fenced by owner
 * and revision, as the repository's statement is), the log, dead letters, a fake transport.
 */
class FakeContext implements RunnerContext {
  owner = OWNER;
  readonly logger = new LogLines();
  readonly transportUsed = new FakeTransport();
  readonly log: RunnerContext['log'];
  readonly repository: RunnerContext['repository'];
  readonly deadLetters: { notificationId: string; attempts: number; lastError: string }[] = [];
  readonly notifications: StoredNotification[] = [];
  lease = true;
  /** The waits before retries: `undefined` gives up. */
  retryDelays: (number | undefined)[] = [];
  sink: Sink;

  constructor(overrides: Partial<Sink> = {}) {
    const now = new Date();
    this.sink = {
      id: 'sink-1',
      kind: 'rabbitmq',
      name: 'orders',
      filter: {},
      config: { url: 'amqp://fake', exchange: 'rowcast' },
      secrets: { url: 'amqp://fake' },
      state: 'active',
      onExhausted: 'dead-letter',
      position: 0n,
      lastError: null,
      lastErrorAt: null,
      recoveredAt: null,
      lastDeliveredId: null,
      lastDeliveredAt: null,
      owner: OWNER,
      revision: 1,
      createdAt: now,
      updatedAt: now,
      ...overrides,
    } as Sink;
    const notifications = this.notifications;
    this.log = {
      readAfter: async (after: bigint, limit: number) => notifications.filter((n) => BigInt(n.id) > after).slice(0, limit),
      get: async (id: string) => notifications.find((n) => n.id === id),
      purgedThrough: async () => 0n,
    } as RunnerContext['log'];
    this.repository = {
      get: async () => ({ ...this.sink, filter: { ...this.sink.filter } }),
      checkpoint: async (_id: string, owner: string, revision: number, checkpoint: Checkpoint) => {
        if (this.sink.owner !== owner || this.sink.revision !== revision) return false;
        const keepPaused = this.sink.state === 'paused' && checkpoint.state !== 'paused';
        Object.assign(this.sink, {
          position: checkpoint.position,
          state: keepPaused ? 'paused' : checkpoint.state,
          lastError: checkpoint.lastError ?? this.sink.lastError,
          recoveredAt: checkpoint.lastError !== null ? null : checkpoint.recovered && this.sink.lastError ? (this.sink.recoveredAt ?? new Date()) : this.sink.recoveredAt,
          lastDeliveredId: checkpoint.lastDelivered ?? this.sink.lastDeliveredId,
          lastDeliveredAt: checkpoint.lastDelivered === null ? this.sink.lastDeliveredAt : new Date(),
        });
        return true;
      },
      addDeadLetter: async (_id: string, notificationId: string, attempts: number, lastError: string) => {
        this.deadLetters.push({ notificationId, attempts, lastError });
      },
      queuedRedeliveries: async () => [],
      redelivered: async () => {},
    } as RunnerContext['repository'];
  }

  recent = () => undefined;
  transport = () => this.transportUsed;
  retryDelay = (_sink: Sink, attempt: number) => this.retryDelays[attempt - 1];
  leaseHeld = () => this.lease;
  confirmed = () => {};

  /** Notifications `from`..`to` appended to the log. */
  append(from: number, to: number): void {
    for (let id = from; id <= to; id++) this.notifications.push(storedNotification({ id: String(id) }));
  }
}

describe('SinkRunner', () => {
  const runners: SinkRunner[] = [];
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((runner) => runner.stop()));
  });

  function start(context: FakeContext): { sut: SinkRunner; ended: () => boolean } {
    const sut = new SinkRunner(context.sink.id, context);
    runners.push(sut);
    let ended = false;
    sut.start(() => (ended = true));
    return { sut, ended: () => ended };
  }

  it('delivers in log order and moves the position past what was confirmed', async () => {
    const context = new FakeContext();
    context.append(1, 5);
    start(context);

    await waitFor(() => context.sink.position === 5n, { what: 'position 5' });
    expect(context.transportUsed.ids()).toEqual(['1', '2', '3', '4', '5']);
    expect(context.sink.state).toBe('active');
  });

  it('retries a refused notification after each backoff, sending nothing after it meanwhile, then goes on', async () => {
    const context = new FakeContext();
    context.retryDelays = [40, 80, 160];
    let refusals = 2;
    context.transportUsed.refuse = (id) => id === '2' && refusals-- > 0;
    context.append(1, 3);
    start(context);

    await waitFor(() => context.sink.position === 3n, { what: 'position 3' });
    expect(context.transportUsed.ids()).toEqual(['1', '2', '2', '2', '3']);
    const at = context.transportUsed.sends.filter((send) => send.id === '2').map((send) => send.at);
    // Timers may fire a millisecond early; the waits are the schedule's, in turn.
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(39);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(79);
    expect(context.sink.state).toBe('active');
    expect(context.sink.lastError).toBe('notification 2: refused 2'); // kept after recovery
    expect(context.sink.recoveredAt).toBeInstanceOf(Date); // and said to be history
    expect(context.deadLetters).toEqual([]);
  });

  it('dead-letters a notification after its last attempt and delivers the ones after it', async () => {
    const context = new FakeContext();
    context.retryDelays = [5]; // two attempts, then it is given up on
    context.transportUsed.refuse = (id) => id === '2';
    context.append(1, 4);
    start(context);

    await waitFor(() => context.sink.position === 4n, { what: 'position 4' });
    expect(context.transportUsed.ids()).toEqual(['1', '2', '2', '3', '4']);
    expect(context.deadLetters).toEqual([{ notificationId: '2', attempts: 2, lastError: 'refused 2' }]);
    expect(context.sink.lastError).toBe('notification 2: refused 2 (dead-lettered after 2 attempts)');
  });

  it('records the last notification delivered, not the ones its filter passed over or it dead-lettered', async () => {
    const context = new FakeContext({ filter: { events: ['invoices.*'] } });
    context.retryDelays = []; // given up on at once
    context.transportUsed.refuse = (id) => id === '3';
    context.append(1, 3);
    for (const id of ['4', '5']) {
      context.notifications.push(storedNotification({ id, event: 'invoice_items.created', tableName: 'invoice_items', payload: { table: 'invoice_items' } }));
    }
    start(context);

    await waitFor(() => context.sink.position === 5n, { what: 'position 5' });
    expect(context.transportUsed.ids()).toEqual(['1', '2', '3']);
    expect(context.deadLetters.map((letter) => letter.notificationId)).toEqual(['3']);
    expect(context.sink.lastDeliveredId).toBe(2n);
    expect(context.sink.lastDeliveredAt).toBeInstanceOf(Date);
  });

  it('pauses at a notification after its last attempt when the sink says so, and sends nothing more', async () => {
    const context = new FakeContext({ onExhausted: 'pause' });
    context.retryDelays = [];
    context.transportUsed.refuse = (id) => id === '2';
    context.append(1, 3);
    start(context);

    await waitFor(() => context.sink.state === 'paused', { what: 'the sink paused' });
    expect(context.sink.position).toBe(1n);
    expect(context.sink.lastError).toMatch(/^notification 2: refused 2 \(gave up after 1 attempts; paused\)/);
    expect(context.sink.recoveredAt).toBeNull(); // the error is current
    const sent = context.transportUsed.sends.length;
    context.append(4, 4);
    await new Promise((resolve) => setImmediate(resolve));
    expect(context.transportUsed.sends.length).toBe(sent);
    expect(context.deadLetters).toEqual([]);
  });

  it('sends nothing while paused, and resumes where it stood when told of the change', async () => {
    const context = new FakeContext({ state: 'paused' });
    context.append(1, 3);
    const { sut } = start(context);
    // Read and found paused: waiting for a change.
    await waitFor(() => sut.stats.name === 'orders', { what: 'the sink read' });
    context.append(4, 5);
    sut.wake();
    expect(context.transportUsed.sends).toEqual([]);

    context.sink.state = 'active';
    sut.nudge();
    await waitFor(() => context.sink.position === 5n, { what: 'position 5' });
    expect(context.transportUsed.ids()).toEqual(['1', '2', '3', '4', '5']);
  });

  it('stops delivering once another instance took the lease (its checkpoint is refused), and ends', async () => {
    const context = new FakeContext();
    context.retryDelays = [10_000]; // a retry wait that the takeover must cut short
    context.transportUsed.refuse = (id) => id === '3';
    context.append(1, 5);
    const { ended } = start(context);
    await waitFor(() => context.sink.state === 'failing', { what: 'the sink failing at 3' });

    context.sink.owner = 'another-instance';
    context.sink.revision++; // what a takeover looks like to the retry wait's check
    const sent = context.transportUsed.sends.length;
    await waitFor(() => ended(), { timeout: 10_000, what: 'the runner to end' });
    expect(context.transportUsed.sends.length).toBe(sent);
    expect(context.transportUsed.ids()).not.toContain('4');
    expect(context.sink.position).toBe(2n);
  });

  it('ends at a refused checkpoint without sending past it, even mid-page', async () => {
    const context = new FakeContext();
    context.append(1, 3);
    let takenAt: number | undefined;
    // The lease is taken over while the first notification is in flight.
    context.transportUsed.refuse = (id) => {
      if (id === '1') {
        context.sink.owner = 'another-instance';
        takenAt = context.transportUsed.sends.length;
      }
      return false;
    };
    const { ended } = start(context);

    await waitFor(() => ended(), { what: 'the runner to end' });
    expect(takenAt).toBe(1);
    // The chunk in flight was already handed over; its confirm is not written down, and no further send follows.
    expect(context.sink.position).toBe(0n);
    expect(context.transportUsed.sends.length).toBeLessThanOrEqual(3);
    const sent = context.transportUsed.sends.length;
    context.append(4, 6);
    await new Promise((resolve) => setImmediate(resolve));
    expect(context.transportUsed.sends.length).toBe(sent);
  });

  it('sends nothing while its lease is unsure, says why, and delivers once it is sure again', async () => {
    const context = new FakeContext();
    context.lease = false;
    context.append(1, 3);
    start(context);

    await waitFor(() => context.logger.lines.some((line) => line.includes('lease was not renewed in time')), { what: 'the warning' });
    expect(context.transportUsed.sends).toEqual([]);
    expect(context.sink.position).toBe(0n);

    context.lease = true;
    await waitFor(() => context.sink.position === 3n, { timeout: 5_000, what: 'position 3' });
    expect(context.transportUsed.ids()).toEqual(['1', '2', '3']);
  });
});
