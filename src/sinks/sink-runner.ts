import { Logger } from '@nestjs/common';
import { backoff } from '../common/backoff.js';
import { commitTimeOf } from '../events/commit-time.js';
import { StoredNotification } from '../events/event-catalog.js';
import { NotificationFilter } from '../events/notification-filter.js';
import { toNotificationMessage, toTruncatedNotificationMessage } from '../events/notification-message.js';
import { CoalesceSource, readCoalesced } from '../log/coalesce.js';
import { NotificationLog } from '../log/notification-log.js';
import { driverFor } from './drivers/sink-drivers.js';
import { Sink } from './sink.js';
import { SinkRepository } from './sink.repository.js';
import { DeliveryAttempt, SendResult, SinkMessage, SinkTransport } from './sink-transport.js';

/** Notifications read from the log per round trip. */
const PAGE = 1000;
/** Queued redeliveries read per round trip (each is sent on its own). */
const REDELIVERIES = 100;
/** While delivering, the position is written at least this often (and after every failure). */
const CHECKPOINT_MS = 200;
/** Nothing new: look again after this long, unless woken first. */
const IDLE_MS = 1000;
/** A long retry wait looks this often whether the sink was changed on another instance. */
const CHANGE_CHECK_MS = 5000;
/**
 * While delivering, the sink's row (and its redelivery queue, and retention) is read again this
 * often: a change made through another instance takes effect within it. A change through this
 * instance's API takes effect at once (`nudge`), and a checkpoint refused because the sink was
 * rewound or taken over makes the runner read it again.
 */
const REREAD_MS = 1000;

/**
 * What a runner needs from the rest of the app (the engine provides it): its sink's row, the log,
 * a transport and a retry policy per sink (from the sink's driver), and whether the lease is sure.
 */
export interface RunnerContext {
  owner: string;
  repository: Pick<SinkRepository, 'get' | 'checkpoint' | 'addDeadLetter' | 'queuedRedeliveries' | 'redelivered'>;
  log: Pick<NotificationLog, 'get' | 'readAfter' | 'purgedThrough' | 'transactionOf'>;
  /** The notifications after `after` from those this instance dispatched last; undefined when not all there. */
  recent(after: bigint, limit: number): StoredNotification[] | undefined;
  /** A transport for the sink as it is now; called again after the sink changed. */
  transport(sink: Sink): SinkTransport;
  /** Waits before retrying a notification that failed `attempt` times; undefined: give up on it. */
  retryDelay(sink: Sink, attempt: number): number | undefined;
  /** Whether this instance renewed its leases recently enough to be sure it still holds them. */
  leaseHeld(): boolean;
  /** The receiver confirmed these notifications, in log order (not redeliveries): for latency metrics. */
  confirmed(stats: RunnerStats, notifications: readonly StoredNotification[]): void;
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
  /** Notifications delivered truncated (too large for the destination), by why (`SendResult.tooLarge`); also in `delivered`. */
  truncated: Record<string, number>;
  /** The sink's state as this runner last read or wrote it. */
  state: Sink['state'];
  /** Every notification up to here is confirmed, dead-lettered or not the sink's (as last checkpointed). */
  position: bigint;
  /** When the notification being sent (or retried) committed (commitTimeOf, ms); undefined between sends. */
  sendingSince: number | undefined;
}

class Stopped extends Error {}
/** The sink changed (through the API, here or on another instance) or is gone: read it again. */
class StaleSink extends Error {}
class LeaseUnsure extends Error {
  constructor() {
    super('its lease was not renewed in time (is the database reachable?); not sending until it is');
  }
}

/**
 * Delivers one sink while this instance holds its lease: reads the log after the sink's position,
 * hands what matches its filter to its transport in order, and moves the position only past what
 * the receiver confirmed (or what was dead-lettered). A notification that fails is retried, and
 * nothing after it is sent, until it is delivered or given up on. Queued redeliveries go first.
 */
export class SinkRunner {
  readonly stats: RunnerStats = {
    name: '',
    kind: 'webhook',
    delivered: 0,
    failures: 0,
    retries: 0,
    deadLetters: 0,
    truncated: {},
    state: 'active',
    position: 0n,
    sendingSince: undefined,
  };
  private running = true;
  private done: Promise<void> | undefined;
  private transport: { key: string; value: SinkTransport } | undefined;
  /** New notifications since the last read of the log: the next idle wait is skipped. */
  private woken = false;
  /** The sink changed through the API since it was read. */
  private changed = false;
  /** Ends the current wait: `idle` waits end on new notifications too, retry waits only on changes. */
  private wakeUp: { idle: boolean; resolve: () => void } | undefined;
  /** The page after `after`, read while the one before it is being delivered. */
  private prefetch: { after: bigint; page: Promise<StoredNotification[] | undefined> } | undefined;

  constructor(
    readonly sinkId: string,
    private readonly context: RunnerContext,
  ) {}

  get ended(): boolean {
    return !this.running;
  }

  /** `onEnd` runs once the runner gives up the sink (stopped, sink deleted, lease lost). */
  start(onEnd: () => void): void {
    this.done = this.loop().finally(() => {
      this.running = false;
      onEnd();
    });
  }

  /** New notifications in the log. */
  wake(): void {
    this.woken = true;
    if (this.wakeUp?.idle) this.wakeUp.resolve();
  }

  /** The sink changed through the API (new settings, paused, resumed, rewound, redelivery queued). */
  nudge(): void {
    this.changed = true;
    this.wakeUp?.resolve();
  }

  /** Ends delivery: a send in flight is cut short (its confirmed part is still written down). */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.resolve();
    await this.transport?.value.close();
    await this.done;
    this.transport = undefined;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    /** The sink as last read, kept from page to page while nothing says it changed. */
    let sink: Sink | undefined;
    let readAt = 0;
    while (this.running) {
      try {
        if (!sink || this.changed || Date.now() - readAt >= REREAD_MS) {
          this.changed = false;
          sink = await this.context.repository.get(this.sinkId);
          readAt = Date.now();
          if (!sink || sink.owner !== this.context.owner) return;
          Object.assign(this.stats, { name: sink.name, kind: sink.kind, state: sink.state, position: sink.position });
          if (sink.state === 'paused') {
            sink = undefined;
            await this.wait(IDLE_MS * 5, false);
            continue;
          }
          if ((await this.skipPurged(sink)) || (await this.redeliver(sink))) {
            sink = undefined;
            failures = 0;
            continue;
          }
        }
        const outcome = await this.deliverNext(sink);
        failures = 0;
        // Paused, changed, taken over or moved past a retention gap: read it again.
        if (outcome !== 'done' && outcome !== 'empty') sink = undefined;
        if (outcome === 'empty' && !this.woken) await this.wait(IDLE_MS, true);
      } catch (error) {
        sink = undefined;
        if (error instanceof Stopped) return;
        // The database, most likely (or the lease unsure): the position is safe in the database.
        failures++;
        this.context.logger.warn(`sink ${this.sinkId}: ${error instanceof Error ? error.message : String(error)}`);
        await this.wait(backoff(failures, { firstMs: 500, maxMs: 30_000, jitter: false }), false);
      }
    }
  }

  /**
   * Retention deleted notifications this sink had not delivered (it was paused or failing for
   * longer than RETENTION_DAYS): they cannot be sent any more. Said in the sink's last error, not
   * skipped in silence; delivery goes on after them.
   */
  private async skipPurged(sink: Sink): Promise<boolean> {
    const purged = await this.context.log.purgedThrough();
    if (purged <= sink.position) return false;
    const lost = `notifications ${sink.position + 1n}–${purged} were deleted by retention (RETENTION_DAYS) before this sink delivered them`;
    this.context.logger.warn(`sink ${sink.name}: ${lost}`);
    await this.checkpoint(sink, { position: purged, state: 'failing', lastError: lost, recovered: false, lastDelivered: null, attempts: [] });
    return true;
  }

  /** Delivers queued redeliveries; false when there were none. */
  private async redeliver(sink: Sink): Promise<boolean> {
    const ids = await this.context.repository.queuedRedeliveries(sink.id, REDELIVERIES);
    if (!ids.length) return false;
    for (const id of ids) {
      const notification = (sink.coalesce && (await this.netChange(BigInt(id)))) || (await this.context.log.get(id));
      if (notification) {
        const outcome = await this.deliverInOrder(sink, [notification], { redelivery: true });
        if (outcome !== 'done') return true; // stays queued
      }
      await this.context.repository.redelivered(sink.id, id);
    }
    return true;
  }

  /**
   * Delivers the next page after the position (`empty`: the log has nothing after it), and reads
   * the page after it meanwhile: a broker's window is refilled as soon as it is drained.
   */
  private async deliverNext(sink: Sink): Promise<'done' | 'empty' | 'paused' | 'stale'> {
    const filter = new NotificationFilter(sink.filter, sink.id);
    this.woken = false; // what is appended from here on is for the next read
    if (sink.coalesce) return this.deliverNetChanges(sink, filter);
    // Filtered here, not in the read: the position then moves past a whole page, matched or not.
    const { page, shared } = await this.readPage(sink.position);
    if (!page.length) return 'empty';
    // Ids are consecutive: a page that starts later may start after what retention deleted.
    if (BigInt(page[0].id) > sink.position + 1n && (await this.skipPurged(sink))) return 'stale';
    const pageEnd = BigInt(page[page.length - 1].id);
    if (page.length === PAGE && !this.context.recent(pageEnd, 1)) {
      const next = this.context.log.readAfter(pageEnd, PAGE).catch(() => undefined); // read again when needed
      this.prefetch = { after: pageEnd, page: next };
    }
    const wanted = page.filter((notification) => filter.matches(notification));
    return this.deliverInOrder(sink, wanted, { redelivery: false, pageEnd, shared });
  }

  /**
   * A sink with `coalesce: 'transaction'`: the net changes of the complete transactions after its
   * position (readCoalesced), those that match its filter delivered in order; the position then
   * moves to where that read ended. Its position is always one such a read resumes from.
   */
  private async deliverNetChanges(sink: Sink, filter: NotificationFilter): Promise<'done' | 'empty' | 'paused' | 'stale'> {
    if (await this.skipPurged(sink)) return 'stale';
    const { notifications, through } = await readCoalesced(this.coalesceSource(), sink.position);
    if (through === sink.position) return 'empty';
    const wanted = notifications.filter((notification) => filter.matches(notification));
    return this.deliverInOrder(sink, wanted, { redelivery: false, pageEnd: through });
  }

  /** The net change with id `id` (a row's first change in its transaction), if there is one. */
  private async netChange(id: bigint): Promise<StoredNotification | undefined> {
    const { notifications } = await readCoalesced(this.coalesceSource(), id - 1n);
    return notifications.find((notification) => notification.id === id.toString());
  }

  /** The log for readCoalesced: this instance's latest notifications when they cover a read. */
  private coalesceSource(): CoalesceSource {
    return {
      readAfter: async (after, limit) => this.context.recent(after, limit) ?? (await this.context.log.readAfter(after, limit)),
      transactionOf: (id) => this.context.log.transactionOf(id),
    };
  }

  /**
   * The page after `after`: the one read ahead if it is that one, else this instance's latest
   * notifications if they cover it (`shared`: every sink here sends those same objects), else the log's.
   */
  private async readPage(after: bigint): Promise<{ page: StoredNotification[]; shared: boolean }> {
    const prefetch = this.prefetch;
    this.prefetch = undefined;
    const ahead = prefetch?.after === after ? await prefetch.page : undefined;
    // One read ahead that found nothing (or failed) may have been early: read again.
    if (ahead?.length) return { page: ahead, shared: false };
    const recent = this.context.recent(after, PAGE);
    return recent ? { page: recent, shared: true } : { page: await this.context.log.readAfter(after, PAGE), shared: false };
  }

  /**
   * Sends `notifications` in order, retrying the first one that fails, and checkpoints the
   * position as it goes (to `pageEnd` once all are through: the page's other notifications did
   * not match). A redelivery never moves the position.
   */
  private async deliverInOrder(
    sink: Sink,
    notifications: readonly StoredNotification[],
    options: { redelivery: boolean; pageEnd?: bigint; shared?: boolean },
  ): Promise<'done' | 'paused' | 'stale'> {
    let position = sink.position;
    let attempt = 1;
    let index = 0;
    let pending: DeliveryAttempt[] = [];
    let lastCheckpoint = Date.now();
    /** The receiver confirmed something since the last error written: that error is history. */
    let recovered = false;
    /** The last notification the receiver confirmed since the last checkpoint. */
    let lastDelivered: bigint | null = null;
    const checkpoint = async (state: Sink['state'], lastError: string | null) => {
      await this.checkpoint(sink, { position: options.redelivery ? sink.position : position, state, lastError, recovered, lastDelivered, attempts: pending });
      pending = [];
      lastDelivered = null;
      if (lastError !== null) recovered = false;
      lastCheckpoint = Date.now();
      this.stats.state = state;
      if (!options.redelivery) this.stats.position = sink.position = position;
    };
    try {
      while (index < notifications.length) {
        if (!this.running || this.changed) {
          // What was confirmed is written down, so it is not sent again (by the next owner, or
          // after the change is read).
          await checkpoint(sink.state, null);
          this.stats.sendingSince = undefined;
          if (!this.running) throw new Stopped();
          return 'stale';
        }
        if (!this.context.leaseHeld()) throw new LeaseUnsure();
        this.stats.sendingSince = commitTimeOf(notifications[index]);
        const chunk = notifications.slice(index, index + driverFor(sink.kind).sendSize);
        const result = await this.sendChunk(sink, chunk, options.shared ?? false);
        pending.push(...(result.attempts ?? []));
        this.stats.delivered += result.confirmed;
        if (result.confirmed > 0) {
          recovered = true;
          if (!options.redelivery) this.context.confirmed(this.stats, notifications.slice(index, index + result.confirmed));
          index += result.confirmed;
          position = lastDelivered = BigInt(notifications[index - 1].id);
          attempt = 1;
        }
        if (!this.running) continue; // stopping: checkpointed at the top of the loop
        if (result.error === undefined) {
          if (sink.state === 'failing') {
            sink.state = 'active';
            await checkpoint('active', null);
          } else if (Date.now() - lastCheckpoint >= CHECKPOINT_MS) await checkpoint('active', null);
          continue;
        }
        // The receiver did not confirm notifications[index]: nothing after it goes out before it.
        const head = notifications[index];
        const error = result.error;
        this.stats.failures++;
        const delay = this.context.retryDelay(sink, attempt);
        if (delay === undefined) {
          if (sink.onExhausted === 'pause') {
            this.stats.sendingSince = undefined;
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
        await this.backoff(sink, delay);
      }
      if (options.pageEnd !== undefined && options.pageEnd > position) position = options.pageEnd;
      this.stats.sendingSince = undefined;
      await checkpoint(sink.state === 'failing' ? 'failing' : 'active', null);
      return 'done';
    } catch (error) {
      if (error instanceof StaleSink) {
        this.stats.sendingSince = undefined; // read again: what it sends next may be another
        return 'stale';
      }
      throw error;
    }
  }

  /** Writes where the sink stands; a sink changed or taken over meanwhile is read again instead. */
  private async checkpoint(sink: Sink, checkpoint: Parameters<SinkRepository['checkpoint']>[3]): Promise<void> {
    const owned = await this.context.repository.checkpoint(sink.id, this.context.owner, sink.revision, checkpoint);
    if (!owned) throw new StaleSink();
  }

  /**
   * Waits before a retry. A change through the API ends the wait at once on this instance; one
   * made on another instance is noticed within CHANGE_CHECK_MS (a retry may be hours away).
   */
  private async backoff(sink: Sink, delay: number): Promise<void> {
    const until = Date.now() + delay;
    while (this.running && !this.changed && Date.now() < until) {
      await this.wait(Math.min(CHANGE_CHECK_MS, until - Date.now()), false);
      if (!this.running || this.changed || Date.now() >= until) break;
      const now = await this.context.repository.get(sink.id);
      if (!now || now.owner !== this.context.owner || now.revision !== sink.revision || now.updatedAt.getTime() !== sink.updatedAt.getTime()) {
        this.changed = true;
      }
    }
  }

  /**
   * Sends `chunk`. When the receiver refused the first notification it did not confirm for its
   * size (nothing after it went out), that one goes again truncated (its keys and where to fetch
   * it, no rows), which counts as delivered; the rest of the chunk is the next send's. `error` is
   * set when, and only when, the notification after the confirmed ones was not delivered.
   */
  private async sendChunk(sink: Sink, chunk: readonly StoredNotification[], shared: boolean): Promise<SendResult> {
    const result = await this.send(sink, chunk.map((notification) => toSinkMessage(notification, shared)));
    if (result.confirmed >= chunk.length) return { confirmed: result.confirmed, attempts: result.attempts };
    const error = result.error ?? 'not confirmed';
    if (result.tooLarge === undefined) return { confirmed: result.confirmed, error, attempts: result.attempts };
    const head = chunk[result.confirmed];
    const reason = result.tooLarge;
    const truncated = await this.send(sink, [toTruncatedSinkMessage(head)]);
    const attempts = [
      ...(result.attempts ?? []),
      ...(truncated.attempts ?? []).map((attempt) => ({ ...attempt, detail: `${attempt.detail} (sent truncated: ${error})` })),
    ];
    if (truncated.confirmed < 1) {
      return { confirmed: result.confirmed, error: `${error}; sent truncated instead: ${truncated.error ?? 'not confirmed'}`, attempts };
    }
    this.stats.truncated[reason] = (this.stats.truncated[reason] ?? 0) + 1;
    this.context.logger.log(`sink ${sink.name}: notification ${head.id} sent truncated (${error})`);
    return { confirmed: result.confirmed + 1, attempts };
  }

  /** Sends through the sink's transport, made again when the sink's settings or signing secrets changed. */
  private async send(sink: Sink, messages: SinkMessage[]): Promise<SendResult> {
    const key = `${sink.updatedAt.getTime()}|${driverFor(sink.kind).transportIdentity(sink, new Date())}`;
    if (this.transport?.key !== key) {
      void this.transport?.value.close();
      this.transport = undefined;
      try {
        this.transport = { key, value: this.context.transport(sink) };
      } catch (error) {
        // Settings the transport refuses (a URL its client cannot parse): the sink is failing, visibly.
        return { confirmed: 0, error: error instanceof Error ? error.message : String(error) };
      }
    }
    return this.transport.value.send(messages);
  }

  private wait(ms: number, idle: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      this.wakeUp = { idle, resolve: done };
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.wakeUp = undefined;
    });
  }
}

/**
 * The bodies of the notifications sinks share (this instance's latest, which every sink here sends
 * as the same objects), each built once however many sinks send it: a stored notification never
 * changes. Only those: a page read from the log is one sink's own, and an entry per notification
 * would cost more (a weak entry for the garbage collector to trace) than it saves.
 */
const sharedBodies = new WeakMap<StoredNotification, string>();

function toSinkMessage(notification: StoredNotification, shared: boolean): SinkMessage {
  let body = shared ? sharedBodies.get(notification) : undefined;
  if (body === undefined) {
    body = JSON.stringify(toNotificationMessage(notification));
    if (shared) sharedBodies.set(notification, body);
  }
  return sinkMessage(notification, body);
}

/** A notification too large for its destination, as a sink sends it instead (keys and a link, no rows). */
function toTruncatedSinkMessage(notification: StoredNotification): SinkMessage {
  return sinkMessage(notification, JSON.stringify(toTruncatedNotificationMessage(notification)));
}

function sinkMessage(notification: StoredNotification, body: string): SinkMessage {
  return {
    id: notification.id,
    event: notification.event,
    table: notification.tableName,
    op: notification.payload.op as SinkMessage['op'],
    body,
  };
}
