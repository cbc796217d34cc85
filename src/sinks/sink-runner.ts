import { Logger } from '@nestjs/common';
import { StoredNotification } from '../events/event-catalog.js';
import { NotificationFilter } from '../events/notification-filter.js';
import { toNotificationMessage } from '../events/notification-message.js';
import { NotificationLog } from '../notifications/notification-log.js';
import { Sink } from './sink.js';
import { SinkRepository } from './sink.repository.js';
import { DeliveryAttempt, SinkMessage, SinkTransport } from './sink-transport.js';

/** Notifications read from the log per round trip. */
const PAGE = 500;
/** Messages handed to a transport per send (a broker pipelines them; a webhook posts them in turn). */
const CHUNK = 100;
/** While delivering, the position is written at least this often (and after every failure). */
const CHECKPOINT_MS = 200;
/** Nothing new: look again after this long, unless woken first. */
const IDLE_MS = 1000;

export interface RunnerContext {
  owner: string;
  repository: SinkRepository;
  log: NotificationLog;
  /** A transport for the sink as it is now; called again after the sink changed. */
  transport(sink: Sink): SinkTransport;
  /** Waits before retrying a notification that failed `attempt` times; undefined: give up on it. */
  retryDelay(sink: Sink, attempt: number): number | undefined;
  logger: Logger;
}

/** Counts and state of one sink's delivery on this instance, for metrics and the API. */
export interface RunnerStats {
  name: string;
  kind: Sink['kind'];
  delivered: number;
  failures: number;
  retries: number;
  deadLetters: number;
  /** When the oldest notification not yet delivered was created; undefined when caught up. */
  oldestPendingAt: Date | undefined;
  position: bigint;
}

class Stopped extends Error {}

/**
 * Delivers one sink while this instance holds its lease: reads the log after the sink's position,
 * hands what matches its filter to its transport in order, and moves the position only past what
 * the receiver confirmed (or what was dead-lettered). A notification that fails is retried, and
 * nothing after it is sent, until it is delivered or given up on. Queued redeliveries go first.
 */
export class SinkRunner {
  readonly stats: RunnerStats = { name: '', kind: 'webhook', delivered: 0, failures: 0, retries: 0, deadLetters: 0, oldestPendingAt: undefined, position: 0n };
  private running = true;
  private done: Promise<void> | undefined;
  private transport: { revision: number; secretsKey: string; value: SinkTransport } | undefined;
  /** Ends the current wait: `idle` waits end on new notifications, `any` also ends a retry's backoff. */
  private wakeUp: { idle: boolean; resolve: () => void } | undefined;

  constructor(
    readonly sinkId: string,
    private readonly context: RunnerContext,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  /** New notifications in the log. */
  wake(): void {
    if (this.wakeUp?.idle) this.wakeUp.resolve();
  }

  /** The sink changed through the API (resumed, rewound, redelivery queued): act on it now. */
  nudge(): void {
    this.wakeUp?.resolve();
  }

  /** Ends delivery: a send in flight is cut short (its confirmed part is still written down). */
  async stop(): Promise<void> {
    this.running = false;
    this.nudge();
    await this.transport?.value.close();
    await this.done;
    this.transport = undefined;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const sink = await this.context.repository.get(this.sinkId);
        if (!sink || sink.owner !== this.context.owner) return;
        Object.assign(this.stats, { name: sink.name, kind: sink.kind, position: sink.position });
        if (sink.state === 'paused') {
          this.stats.oldestPendingAt = undefined;
          await this.wait(IDLE_MS * 5, false);
          continue;
        }
        const moved = (await this.redeliver(sink)) || (await this.deliverNext(sink));
        failures = 0;
        if (!moved) await this.wait(IDLE_MS, true);
      } catch (error) {
        if (error instanceof Stopped) return;
        // The database, most likely: the position is safe in it; try again, backing off.
        failures++;
        this.context.logger.warn(`sink ${this.sinkId}: ${error instanceof Error ? error.message : String(error)}`);
        await this.wait(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)), false);
      }
    }
  }

  /** Delivers queued redeliveries; false when there were none. */
  private async redeliver(sink: Sink): Promise<boolean> {
    const ids = await this.context.repository.queuedRedeliveries(sink.id, CHUNK);
    if (!ids.length) return false;
    for (const id of ids) {
      const notification = await this.context.log.get(id);
      if (notification) {
        const outcome = await this.deliverInOrder(sink, [notification], { redelivery: true });
        if (outcome !== 'done') return true; // stays queued
      }
      await this.context.repository.redelivered(sink.id, id);
    }
    return true;
  }

  /** Delivers the next page after the position; false when the log has nothing after it. */
  private async deliverNext(sink: Sink): Promise<boolean> {
    const filter = new NotificationFilter(sink.filter);
    const page = await this.context.log.readAfter(sink.position, PAGE, { tables: sink.filter.tables });
    if (!page.length) {
      this.stats.oldestPendingAt = undefined;
      return false;
    }
    const wanted = page.filter((notification) => filter.matches(notification));
    const outcome = await this.deliverInOrder(sink, wanted, { redelivery: false, pageEnd: BigInt(page[page.length - 1].id) });
    return outcome !== 'paused';
  }

  /**
   * Sends `notifications` in order, retrying the first one that fails, and checkpoints the
   * position as it goes (to `pageEnd` once all are through: the page's other notifications did
   * not match). A redelivery never moves the position.
   */
  private async deliverInOrder(
    sink: Sink,
    notifications: readonly StoredNotification[],
    options: { redelivery: boolean; pageEnd?: bigint },
  ): Promise<'done' | 'paused' | 'stale'> {
    let position = sink.position;
    let attempt = 1;
    let index = 0;
    let pending: DeliveryAttempt[] = [];
    let lastCheckpoint = Date.now();
    const checkpoint = async (state: Sink['state'], lastError: string | null) => {
      const owned = await this.context.repository.checkpoint(sink.id, this.context.owner, sink.revision, {
        position: options.redelivery ? sink.position : position,
        state,
        lastError,
        attempts: pending,
      });
      pending = [];
      lastCheckpoint = Date.now();
      if (!options.redelivery) this.stats.position = position;
      if (!owned) throw new StaleSink();
    };
    try {
      while (index < notifications.length) {
        if (!this.running) {
          // What was confirmed is written down, so the next owner does not send it again.
          await checkpoint(sink.state, null);
          throw new Stopped();
        }
        this.stats.oldestPendingAt = notifications[index].createdAt;
        const chunk = notifications.slice(index, index + CHUNK);
        const result = await this.send(sink).send(chunk.map(toSinkMessage));
        pending.push(...(result.attempts ?? []));
        this.stats.delivered += result.confirmed;
        if (result.confirmed > 0) {
          index += result.confirmed;
          position = BigInt(notifications[index - 1].id);
          attempt = 1;
        }
        if (!this.running) continue; // stopping: checkpointed at the top of the loop
        if (result.confirmed === chunk.length) {
          if (sink.state === 'failing') {
            sink.state = 'active';
            await checkpoint('active', null);
          } else if (Date.now() - lastCheckpoint >= CHECKPOINT_MS) await checkpoint('active', null);
          continue;
        }
        // The receiver did not confirm notifications[index]: nothing after it goes out before it.
        const head = notifications[index];
        const error = result.error ?? 'not confirmed';
        this.stats.failures++;
        const delay = this.context.retryDelay(sink, attempt);
        if (delay === undefined) {
          if (sink.onExhausted === 'pause') {
            await checkpoint('paused', `notification ${head.id}: ${error} (gave up after ${attempt} attempts; paused)`);
            return 'paused';
          }
          await this.context.repository.addDeadLetter(sink.id, head.id, attempt, error);
          this.stats.deadLetters++;
          const reason = `notification ${head.id}: ${error} (dead-lettered after ${attempt} attempts)`;
          index++;
          position = BigInt(head.id);
          attempt = 1;
          await checkpoint('failing', reason);
          continue;
        }
        sink.state = 'failing';
        await checkpoint('failing', `notification ${head.id}: ${error}`);
        this.stats.retries++;
        attempt++;
        await this.wait(delay, false);
        if (!this.running) throw new Stopped();
      }
      if (options.pageEnd !== undefined && options.pageEnd > position) position = options.pageEnd;
      this.stats.oldestPendingAt = undefined;
      await checkpoint(sink.state === 'failing' ? 'failing' : 'active', null);
      return 'done';
    } catch (error) {
      if (error instanceof StaleSink) return 'stale';
      throw error;
    }
  }

  /** The sink's transport, made again when the sink changed or a rotated secret stopped overlapping. */
  private send(sink: Sink): SinkTransport {
    const secretsKey = JSON.stringify(sink.secrets) + (sink.kind === 'webhook' ? String(this.overlapping(sink)) : '');
    if (this.transport?.revision !== sink.revision || this.transport.secretsKey !== secretsKey) {
      void this.transport?.value.close();
      this.transport = { revision: sink.revision, secretsKey, value: this.context.transport(sink) };
    }
    return this.transport.value;
  }

  private overlapping(sink: Sink): boolean {
    const expires = (sink.secrets as { previousExpiresAt?: string }).previousExpiresAt;
    return expires !== undefined && new Date(expires) > new Date();
  }

  private wait(ms: number, idle: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wakeUp = { idle, resolve: done };
      this.wakeUp = wakeUp;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.wakeUp = undefined;
    });
  }
}

class StaleSink extends Error {}

function toSinkMessage(notification: StoredNotification): SinkMessage {
  return {
    id: notification.id,
    event: notification.event,
    table: notification.tableName,
    op: notification.payload.op as SinkMessage['op'],
    body: JSON.stringify(toNotificationMessage(notification)),
  };
}
