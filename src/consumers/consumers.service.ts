import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { TableCatalog } from '../capture/table-catalog.js';
import { PG, postgresError } from '../common/errors/postgres-error.js';
import { Slots } from '../common/slots.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { BackgroundReading } from '../database/background-reading.js';
import { Sql } from '../database/sql.js';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { changedFilter, NotificationFilter, storedFilter } from '../events/notification-filter.js';
import { commitTimeOf } from '../events/commit-time.js';
import { toNotificationMessage } from '../events/notification-message.js';
import { LiveTail } from '../log/live-tail.js';
import { NotificationLog } from '../log/notification-log.js';
import { ConsumerCounts, ConsumerGroup, LeasedMessage, orderingKey } from './consumer-group.js';
import { ConsumerGroupChanges, ConsumerRepository, Settled } from './consumer.repository.js';
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

/** Notifications read from the log per round trip when a receive fills a group's buffer. */
const SCAN_PAGE = 1000;
/** A receive takes at least this many new notifications (when its buffer has room), whatever it asks for. */
const SCAN_MIN = 100;
/** Pages a receive reads at most before it leases what it has. */
const SCAN_PAGES = 5;
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
 * Pull consumer groups (issue 20): a group takes the notifications that match its filter from the
 * log into its messages as workers receive, leases them out (per-key order, or none), and forgets
 * them once acknowledged. Receives run side by side, on any instance: each leases what no other is
 * leasing (SKIP LOCKED), and one at a time takes new notifications from the log (the group's row
 * lock, skipped when taken). Settling (ack, nack, extend, term) names leases. Each instance runs
 * at most DB_POOL_SIZE − 2 receives at once, so waiting ones never hold a connection.
 */
@Injectable()
export class ConsumersService implements OnModuleInit, OnModuleDestroy, OnApplicationBootstrap, OnApplicationShutdown {
  /** Receives waiting for messages, by group name: woken by new notifications and by settled leases here. */
  private readonly waiting = new Map<string, Set<WakeableSleep>>();
  private stopListening: (() => void) | undefined;
  private readonly counters = new Map<string, GroupCounters>();
  private readonly reading = new BackgroundReading(() => this.readStats(), { everyMs: STATS_EVERY_MS, timeoutMs: 2000 });
  private readonly receiving: Slots;
  private readonly leasedCommits = new LeasedCommits();
  private readonly ackedListeners = new Set<AckedListener>();

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
    this.stopListening = this.tail.listen('consumers', () => this.wakeAll(), () => this.waiting.size > 0);
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
      const sleep = new WakeableSleep();
      // Registered before looking: a notification appended while this receive reads wakes it.
      this.waitFor(name, sleep);
      try {
        const messages = await this.receiveNow(name, max);
        const left = deadline - Date.now();
        if (messages.length || left <= 0) return messages.map(toMessageDto);
        await sleep.sleep(Math.min(POLL_MS, left));
      } finally {
        this.stopWaiting(name, sleep);
      }
    }
  }

  /**
   * Calls `listener` with the commit times of the messages acknowledged through this instance that
   * it leased (LeasedCommits): metrics time them from commit. Returns its removal.
   */
  onAcked(listener: AckedListener): () => void {
    this.ackedListeners.add(listener);
    return () => this.ackedListeners.delete(listener);
  }

  async ack(name: string, leaseIds: string[]): Promise<Settled> {
    const settled = await this.settle(name, 'acks', (group) => this.repository.ack(group.id, leaseIds));
    const committed = this.leasedCommits.take(settled.done);
    this.leasedCommits.take(settled.unknown);
    for (const listener of committed.length ? this.ackedListeners : []) {
      try {
        listener(name, committed);
      } catch {
        // Metrics only: the ack is done whatever they do.
      }
    }
    return settled;
  }

  async nack(name: string, leaseIds: string[], delayMs: number | undefined): Promise<Settled> {
    const settled = await this.settle(name, 'nacks', (group) => this.repository.nack(group, leaseIds, delayMs));
    this.leasedCommits.take(leaseIds);
    return settled;
  }

  extend(name: string, leaseIds: string[]): Promise<Settled> {
    return this.settle(name, undefined, async (group) => {
      const settled = await this.repository.extend(group, leaseIds);
      this.leasedCommits.extended(settled.done, Date.now() + group.ackWaitMs);
      return settled;
    });
  }

  async term(name: string, leaseIds: string[], reason: string | undefined): Promise<Settled> {
    const settled = await this.settle(name, 'terms', (group) => this.repository.term(group.id, leaseIds, reason ?? 'terminated'));
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

  /** Leases what is available now, after taking new notifications from the log into the group (unless another receive is). */
  private async receiveNow(name: string, max: number): Promise<LeasedMessage[]> {
    const group = await this.find(name);
    if (group.paused) return [];
    let scanned = false;
    const leased = await this.receiving.run(() =>
      this.repository.transaction(async (sql) => {
        await this.repository.expireLeases(sql, group);
        const scannedThrough = await this.repository.lockForScan(sql, group.id);
        if (scannedThrough !== undefined) scanned = await this.scan({ ...group, scannedThrough }, sql, max);
        return this.lease(group, sql, max);
      }),
    );
    // What this receive took from the log may be for the others waiting.
    if (scanned) this.wake(name);
    this.leasedCommits.leased(leased);
    const counters = this.countersOf(name);
    counters.deliveries += leased.length;
    counters.redeliveries += leased.filter((message) => message.deliveries > 1).length;
    return leased;
  }

  /** Leases up to `max` messages and reads their notifications, in the receive's transaction. */
  private async lease(group: ConsumerGroup, sql: Sql, max: number): Promise<LeasedMessage[]> {
    const rows = await this.repository.lease(sql, group, max);
    if (!rows.length) return [];
    const notifications = new Map((await this.log.getMany(rows.map((row) => BigInt(row.notification_id)), sql)).map((n) => [n.id, n]));
    const lost = rows.filter((row) => !notifications.has(row.notification_id)).map((row) => row.notification_id);
    if (lost.length) await this.repository.dropLost(sql, group.id, lost, `notifications ${lost.join(', ')} were deleted by retention before they were acknowledged`);
    return rows.flatMap((row) => {
      const notification = notifications.get(row.notification_id);
      return notification ? [{ leaseId: row.lease_id, deliveries: row.deliveries, leasedUntil: row.leased_until, notification }] : [];
    });
  }

  /**
   * Takes the notifications after the group's scan position that match its filter into its
   * messages: about as many as the receive asks for (`max`, at least SCAN_MIN: what it and the
   * receives beside it lease next is then there), within its buffer (four times maxAckPending, at least 1,000: a row blocked behind its earlier
   * change does not stop other rows). Whether it took any.
   */
  private async scan(group: ConsumerGroup, sql: Sql, max: number): Promise<boolean> {
    let through = group.scannedThrough;
    const purged = await this.log.purgedThrough(sql);
    if (purged > through) {
      await this.repository.fail(sql, group.id, `notifications ${through + 1n}–${purged} were deleted by retention before this group took them`);
      through = purged;
    }
    // At least SCAN_MIN: receives side by side lease from what one of them took (they skip the scan while it runs).
    let room = Math.min(Math.max(max, SCAN_MIN), Math.max(group.maxAckPending * 4, 1000) - (await this.repository.buffered(sql, group.id)));
    const filter = new NotificationFilter(group.filter);
    const messages: { id: string; key: string | null }[] = [];
    // Pages of what is wanted (at least 100: a filter may pass over many), up to SCAN_PAGE.
    const size = Math.min(SCAN_PAGE, Math.max(room, 100));
    for (let pages = 0; room > 0 && pages < SCAN_PAGES; pages++) {
      const page = await this.log.readAfter(through, size, {}, sql);
      for (const notification of page) {
        if (room <= 0) break;
        through = BigInt(notification.id);
        if (!filter.matches(notification)) continue;
        messages.push({ id: notification.id, key: group.order === 'key' ? orderingKey(notification, group.keyColumns) : null });
        room--;
      }
      if (page.length < size) break;
    }
    if (through === group.scannedThrough) return false;
    await this.repository.addMessages(sql, group.id, messages, through);
    return messages.length > 0;
  }

  private async settle(name: string, counter: keyof GroupCounters | undefined, work: (group: ConsumerGroup) => Promise<Settled>): Promise<Settled> {
    const settled = await work(await this.find(name));
    if (counter) this.countersOf(name)[counter] += settled.done.length;
    if (settled.done.length) this.wake(name);
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

  private waitFor(name: string, sleep: WakeableSleep): void {
    (this.waiting.get(name) ?? this.waiting.set(name, new Set()).get(name)!).add(sleep);
  }

  private stopWaiting(name: string, sleep: WakeableSleep): void {
    const set = this.waiting.get(name);
    set?.delete(sleep);
    if (set?.size === 0) this.waiting.delete(name);
  }

  private wake(name: string): void {
    for (const sleep of this.waiting.get(name) ?? []) sleep.wake();
  }

  private wakeAll(): void {
    for (const set of this.waiting.values()) for (const sleep of set) sleep.wake();
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
