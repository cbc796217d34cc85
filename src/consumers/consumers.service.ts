import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { TableCatalog } from '../capture/table-catalog.js';
import { PG, postgresError } from '../common/errors/postgres-error.js';
import { Slots } from '../common/slots.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BackgroundReading } from '../database/background-reading.js';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { changedFilter, storedFilter } from '../events/notification-filter.js';
import { commitTimeOf } from '../events/commit-time.js';
import { toNotificationMessage } from '../events/notification-message.js';
import { LiveTail } from '../log/live-tail.js';
import { NotificationLog } from '../log/notification-log.js';
import { ConsumerCounts, ConsumerGroup, LeasedMessage } from './consumer-group.js';
import { ConsumerGroupChanges, ConsumerRepository, ReceivedRow, Settled } from './consumer.repository.js';
import { LeasedCommits } from './leased-commits.js';
import { BadConsumerRequest, ConsumerNameTaken, ConsumerNotFound } from './consumers.errors.js';
import {
  ConsumerDeadLetterDto,
  ConsumerGroupDto,
  ConsumerMessageDto,
  CreateConsumerDto,
  RedeliverDeadLettersDto,
  SeekDto,
  UpdateConsumerDto,
} from './dto/consumer.dto.js';
import { Listeners } from '../common/listeners.js';

/** A receive asking for fewer takes this many new notifications from the log (when its buffer has room): the rest are left pending for the receives beside it. */
const SCAN_MIN = 100;
/** Log ids a receive looks at most before it leases what it has (a filter may pass over many). */
const SCAN_IDS = 5000;
/** A receive waiting for messages looks again at least this often (an ack on another instance frees a key). */
const POLL_MS = 250;
const DEFAULT_MAX_DELIVER = 5;
/** How often /metrics' reading of every group's counts and lag is refreshed. */
const STATS_EVERY_MS = 5000;

/** What this instance counted of a group since it started (/metrics). */
interface GroupCounters {
  /** Messages handed out by receive (a redelivery too). */
  deliveries: number;
  /** Of those, handed out again (a nack, an expired lease, a redelivered dead letter). */
  redeliveries: number;
  acks: number;
  nacks: number;
  terms: number;
}

/** A group's counts and lag as /metrics shows them, read in the background. */
export interface ConsumerGroupStanding extends ConsumerCounts {
  name: string;
  lagNotifications: number;
  lagSeconds: number;
  /** When the first notification after the group's position committed (commitTimeOf, ms); undefined when caught up. */
  oldestCommitAt: number | undefined;
}

/** What this instance counted of a group (/metrics). */
export interface ConsumerGroupCounters extends GroupCounters {
  name: string;
}

/** A receive parked until there is work: woken (once) for up to `max` messages. */
interface Waiter {
  sleep: WakeableSleep;
  max: number;
  woken: boolean;
}

/** Told of acknowledged messages' commit times (ms), by group (see ConsumersService.onAcked). */
export type AckedListener = (group: string, committedAt: readonly number[]) => void;

/** Where a group stands: every id up to `position` is acknowledged, a dead letter or not its; how far behind the log that is. */
interface Standing {
  position: bigint;
  lagNotifications: number;
  lagSeconds: number;
  oldestCommitAt: number | undefined;
}

/**
 * Pull consumer groups (issue 20): a group leases the notifications that match its filter to
 * workers as they receive, and forgets them once acknowledged. A receive leases the group's pending
 * messages (nacked, expired, behind an earlier change of their key, or left by a receive that asked
 * for fewer than SCAN_MIN), side by side with other receives; then, one receive of the group at a
 * time on any instance (the group's row lock, taken only when there is something to do), expired
 * leases and new notifications from the log, as one lease batch (one row however many messages).
 * Settling (ack, nack, extend, term) names leases. A receive and a settle are one SQL call each
 * (consumer_receive, consumer_settle). Each instance runs at most DB_POOL_SIZE − 2 receives at
 * once, so waiting ones never hold a connection. Parked receives are woken for as much work as
 * arrived (new notifications, settled leases), not all of them at once.
 */
@Injectable()
export class ConsumersService implements OnModuleInit, OnModuleDestroy, OnApplicationBootstrap, OnApplicationShutdown {
  /** Receives waiting for messages, by group name, oldest first: woken by new notifications and by settled leases here. */
  private readonly waiting = new Map<string, Set<Waiter>>();
  private stopListening: (() => void) | undefined;
  private readonly counters = new Map<string, GroupCounters>();
  private readonly reading = new BackgroundReading(() => this.readStats(), { everyMs: STATS_EVERY_MS, timeoutMs: 2000 });
  private readonly receiving: Slots;
  private readonly leasedCommits = new LeasedCommits();
  private readonly ackedListeners = new Listeners<Parameters<AckedListener>>(); // metrics only: the ack is done whatever they do

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly repository: ConsumerRepository,
    private readonly log: NotificationLog,
    private readonly tail: LiveTail,
    private readonly tables: TableCatalog,
  ) {
    this.receiving = new Slots(Math.max(1, config.dbPoolSize - 2));
  }

  onModuleInit(): void {
    this.stopListening = this.tail.listen('consumers', (notifications) => this.wakeEach(notifications.length), () => this.waiting.size > 0);
  }

  onModuleDestroy(): void {
    this.stopListening?.();
    this.wakeAll();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.reading.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reading.stop();
  }

  /** Every group's counts and lag as last read (every 5 s): for /metrics. */
  standings(): ConsumerGroupStanding[] {
    return this.reading.latest ?? [];
  }

  /** What this instance handed out and settled, per group it served: for /metrics. */
  counted(): ConsumerGroupCounters[] {
    return [...this.counters].map(([name, counters]) => ({ name, ...counters }));
  }

  async create(dto: CreateConsumerDto): Promise<ConsumerGroupDto> {
    await this.tables.check(dto.tables, dto.events);
    if (dto.keyColumns && dto.order === 'none') throw new BadConsumerRequest("keyColumns apply to order 'key' only");
    const scannedThrough = await this.log.startPosition(dto.from);
    try {
      const group = await this.repository.create({
        name: dto.name,
        filter: storedFilter(dto),
        order: dto.order ?? 'key',
        keyColumns: dto.keyColumns ?? null,
        ackWaitMs: dto.ackWaitMs ?? 30_000,
        maxAckPending: dto.maxAckPending ?? 1000,
        maxDeliver: dto.maxDeliver === undefined ? DEFAULT_MAX_DELIVER : dto.maxDeliver,
        backoffMs: dto.backoffMs ?? [],
        scannedThrough,
      });
      return this.view(group);
    } catch (error) {
      if (postgresError(error)?.code === PG.uniqueViolation) throw new ConsumerNameTaken(dto.name);
      throw error;
    }
  }

  async list(): Promise<ConsumerGroupDto[]> {
    return Promise.all((await this.repository.list()).map((group) => this.view(group)));
  }

  async get(name: string): Promise<ConsumerGroupDto> {
    return this.view(await this.find(name));
  }

  async update(name: string, dto: UpdateConsumerDto): Promise<ConsumerGroupDto> {
    const group = await this.find(name);
    await this.tables.check(dto.tables, dto.events);
    const changes: ConsumerGroupChanges = {};
    const filter = changedFilter(group.filter, dto);
    if (filter) changes.filter = filter;
    for (const field of ['ackWaitMs', 'maxAckPending', 'maxDeliver', 'backoffMs', 'paused'] as const) {
      if (dto[field] !== undefined) Object.assign(changes, { [field]: dto[field] });
    }
    const changed = await this.repository.update(name, changes);
    if (!changed) throw new ConsumerNotFound(name);
    this.wake(name);
    return this.view(changed);
  }

  async remove(name: string): Promise<void> {
    if (!(await this.repository.remove(name))) throw new ConsumerNotFound(name);
    this.counters.delete(name);
    this.wake(name);
  }

  /**
   * Up to `max` messages, leased: at once when some are available, else as soon as some are
   * (new notifications, a lease settled or expired), or none after `waitMs`.
   */
  async receive(name: string, max: number, waitMs: number): Promise<ConsumerMessageDto[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const waiter: Waiter = { sleep: new WakeableSleep(), max, woken: false };
      // Registered before looking: a notification appended while this receive reads wakes it.
      this.waitFor(name, waiter);
      try {
        const messages = await this.receiveNow(name, max);
        // A full answer may have left more: the next parked receive looks too (not this one).
        if (messages.length === max) {
          this.stopWaiting(name, waiter);
          this.wake(name, 1);
        }
        const left = deadline - Date.now();
        if (messages.length || left <= 0) return messages.map(toMessageDto);
        await waiter.sleep.sleep(Math.min(POLL_MS, left));
      } finally {
        this.stopWaiting(name, waiter);
      }
    }
  }

  /**
   * Calls `listener` with the commit times of the messages acknowledged through this instance that
   * it leased (LeasedCommits): metrics time them from commit. Returns its removal.
   */
  onAcked(listener: AckedListener): () => void {
    return this.ackedListeners.add(listener);
  }

  async ack(name: string, leaseIds: string[]): Promise<Settled> {
    const settled = await this.settle(name, 'acks', () => this.repository.ack(name, leaseIds));
    const committed = this.leasedCommits.take(settled.done);
    this.leasedCommits.take(settled.unknown);
    if (committed.length) this.ackedListeners.tell(name, committed);
    return settled;
  }

  async nack(name: string, leaseIds: string[], delayMs: number | undefined): Promise<Settled> {
    const settled = await this.settle(name, 'nacks', () => this.repository.nack(name, leaseIds, delayMs));
    this.leasedCommits.take(leaseIds);
    return settled;
  }

  async extend(name: string, leaseIds: string[]): Promise<Settled> {
    const settled = await this.settle(name, undefined, () => this.repository.extend(name, leaseIds));
    // Rare (a long handler, at two thirds of its lease): the group's lease length is read for it.
    if (settled.done.length) this.leasedCommits.extended(settled.done, Date.now() + (await this.find(name)).ackWaitMs);
    return settled;
  }

  async term(name: string, leaseIds: string[], reason: string | undefined): Promise<Settled> {
    const settled = await this.settle(name, 'terms', () => this.repository.term(name, leaseIds, reason ?? 'terminated'));
    this.leasedCommits.take(leaseIds);
    return settled;
  }

  async deadLetters(name: string, limit: number): Promise<ConsumerDeadLetterDto[]> {
    const group = await this.find(name);
    return (await this.repository.deadLetters(group.id, limit)).map((row) => ({
      notificationId: row.notification_id,
      deliveries: row.deliveries,
      lastError: row.last_error,
      deadAt: row.dead_at,
    }));
  }

  async redeliverDeadLetters(name: string, dto: RedeliverDeadLettersDto): Promise<number> {
    const group = await this.find(name);
    const count = await this.repository.redeliverDeadLetters(group.id, dto.notificationIds);
    this.wake(name);
    return count;
  }

  async purgeDeadLetters(name: string): Promise<number> {
    return this.repository.purgeDeadLetters((await this.find(name)).id);
  }

  /** Moves the group to after a notification id, or after what was appended by a time; what it held (not its dead letters) is forgotten. */
  async seek(name: string, dto: SeekDto): Promise<ConsumerGroupDto> {
    if ((dto.id === undefined) === (dto.at === undefined)) throw new BadConsumerRequest('give exactly one of id or at');
    const position = dto.id !== undefined ? await this.log.startPosition(dto.id, 'id') : await this.positionAt(new Date(dto.at!));
    const found = await this.repository.locked(name, async (group, sql) => {
      await this.repository.seek(sql, group.id, position);
      return true;
    });
    if (!found) throw new ConsumerNotFound(name);
    this.wake(name);
    return this.get(name);
  }

  /** After the notifications appended by `at`: never behind retention, never ahead of the log. */
  private async positionAt(at: Date): Promise<bigint> {
    const [found, purged] = await Promise.all([this.log.lastIdAt(at), this.log.purgedThrough()]);
    return found > purged ? found : purged;
  }

  /** Leases what is available now, after taking new notifications from the log into the group (unless another receive is): one SQL call. */
  private async receiveNow(name: string, max: number): Promise<LeasedMessage[]> {
    const rows = await this.receiving.run(() => this.repository.receive(name, max, { min: SCAN_MIN, ids: SCAN_IDS }));
    if (!rows) throw new ConsumerNotFound(name);
    const leased = await this.withNotifications(name, rows);
    this.leasedCommits.leased(leased);
    const counters = this.countersOf(name);
    counters.deliveries += leased.length;
    counters.redeliveries += leased.filter((message) => message.deliveries > 1).length;
    return leased;
  }

  /**
   * The leased messages with their notifications: from the rows the receive selected, else (a legacy
   * notification) read from the log. Dropped from the group, said in its last error: those the log
   * no longer has (retention), and those whose journal row the parser refuses (the log leaves them
   * out for every reader, with a warning in the app's log naming the row).
   */
  private async withNotifications(name: string, rows: ReceivedRow[]): Promise<LeasedMessage[]> {
    if (!rows.length) return [];
    const journal = rows.filter((row) => row.change_id !== null);
    const notifications = new Map(this.log.fromRows(journal).map((n) => [n.id, n]));
    // No journal row with it: a legacy notification, read from the log, or one retention deleted.
    const unjournaled = rows.filter((row) => row.change_id === null);
    if (unjournaled.length) for (const notification of await this.log.getMany(unjournaled.map((row) => BigInt(row.id)))) notifications.set(notification.id, notification);
    const dropped = [
      [journal, 'have journal rows the log leaves out (not as the capture triggers write them; the app\'s log names each)'],
      [unjournaled, 'were deleted by retention before they were acknowledged'],
    ] as const;
    for (const [from, why] of dropped) {
      const lost = from.filter((row) => !notifications.has(row.id));
      if (lost.length) await this.repository.dropLost(name, lost.map((row) => row.lease_id), `notifications ${lost.map((row) => row.id).join(', ')} ${why}`);
    }
    return rows.flatMap((row) => {
      const notification = notifications.get(row.id);
      return notification ? [{ leaseId: row.lease_id, deliveries: row.deliveries, leasedUntil: row.leased_until, notification }] : [];
    });
  }

  /** Settles in one SQL call; what it settled frees as many messages (their keys, or room under maxAckPending) for parked receives. */
  private async settle(name: string, counter: keyof GroupCounters | undefined, work: () => Promise<Settled | undefined>): Promise<Settled> {
    const settled = await work();
    if (!settled) throw new ConsumerNotFound(name);
    if (counter) this.countersOf(name)[counter] += settled.done.length;
    // An extension frees nothing.
    if (counter && settled.done.length) this.wake(name, settled.done.length);
    return settled;
  }

  private countersOf(name: string): GroupCounters {
    let counters = this.counters.get(name);
    if (!counters) this.counters.set(name, (counters = { deliveries: 0, redeliveries: 0, acks: 0, nacks: 0, terms: 0 }));
    return counters;
  }

  private async readStats(): Promise<ConsumerGroupStanding[]> {
    const counts = await this.repository.counts();
    const standings = await this.standingsOf(counts);
    return counts.map((count, i) => ({ ...count, ...standings[i] }));
  }

  /** Where each group stands (see Standing), with one read of the log for all of them. */
  private async standingsOf(counts: readonly (ConsumerCounts & { scannedThrough: bigint })[]): Promise<Standing[]> {
    const last = await this.log.lastId();
    const positions = counts.map((count) => (count.oldestUnacked === null ? count.scannedThrough : count.oldestUnacked - 1n));
    const behind = [...new Set(positions.filter((position) => position < last).map((position) => position + 1n))];
    const oldest = new Map((await this.log.getMany(behind)).map((n) => [BigInt(n.id), commitTimeOf(n)]));
    return positions.map((position) => {
      const since = position < last ? oldest.get(position + 1n) : undefined;
      return {
        position,
        lagNotifications: Number(last > position ? last - position : 0n),
        lagSeconds: since === undefined ? 0 : Math.max(0, (Date.now() - since) / 1000),
        oldestCommitAt: since,
      };
    });
  }

  private async find(name: string): Promise<ConsumerGroup> {
    const group = await this.repository.get(name);
    if (!group) throw new ConsumerNotFound(name);
    return group;
  }

  private async view(group: ConsumerGroup): Promise<ConsumerGroupDto> {
    const [counts] = await this.repository.counts(group.id);
    const [{ position, lagNotifications, lagSeconds }] = await this.standingsOf([counts]);
    return {
      name: group.name,
      events: group.filter.events ?? null,
      tables: group.filter.tables ?? null,
      where: group.filter.where ?? null,
      order: group.order,
      keyColumns: group.keyColumns,
      ackWaitMs: group.ackWaitMs,
      maxAckPending: group.maxAckPending,
      maxDeliver: group.maxDeliver,
      backoffMs: group.backoffMs,
      paused: group.paused,
      position: position.toString(),
      scannedThrough: group.scannedThrough.toString(),
      pending: counts.pending,
      inFlight: counts.inFlight,
      deadLetters: counts.deadLetters,
      lag: { ids: lagNotifications, seconds: lagSeconds },
      lastError: group.lastError,
      lastErrorAt: group.lastErrorAt,
      createdAt: group.createdAt,
      updatedAt: group.updatedAt,
    };
  }

  private waitFor(name: string, waiter: Waiter): void {
    (this.waiting.get(name) ?? this.waiting.set(name, new Set()).get(name)!).add(waiter);
  }

  private stopWaiting(name: string, waiter: Waiter): void {
    const set = this.waiting.get(name);
    set?.delete(waiter);
    if (set?.size === 0) this.waiting.delete(name);
  }

  /**
   * Wakes the group's parked receives, oldest first, until those woken ask for `messages` in all
   * (every one without it: the group changed). A receive woken for nothing looks once and parks
   * again; one that leases a full answer wakes the next (receive), so an undercount only delays.
   */
  private wake(name: string, messages = Infinity): void {
    let left = messages;
    for (const waiter of this.waiting.get(name) ?? []) {
      if (left <= 0) break;
      if (waiter.woken) continue;
      waiter.woken = true;
      waiter.sleep.wake();
      left -= waiter.max;
    }
  }

  /** New notifications in the log (`count`): each group's parked receives are woken for that many (a filter may take fewer). */
  private wakeEach(count: number): void {
    for (const name of this.waiting.keys()) this.wake(name, count);
  }

  private wakeAll(): void {
    for (const set of this.waiting.values()) for (const waiter of set) waiter.sleep.wake();
  }
}

function toMessageDto(message: LeasedMessage): ConsumerMessageDto {
  return {
    leaseId: message.leaseId,
    deliveries: message.deliveries,
    leasedUntil: message.leasedUntil,
    notification: toNotificationMessage(message.notification),
  };
}
