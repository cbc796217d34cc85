import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { StoredNotification } from '../events/event-catalog.js';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { LiveTail } from '../log/live-tail.js';
import { NotificationLog } from '../log/notification-log.js';
import { RecentNotifications } from '../log/recent-notifications.js';
import { driverFor } from './drivers/sink-drivers.js';
import { Sink } from './sink.js';
import { SinkRepository } from './sink.repository.js';
import { RunnerStats, SinkRunner } from './sink-runner.js';
import { SinkTransport } from './sink-transport.js';
import { Listeners } from '../common/listeners.js';

/** Told what a sink's receiver confirmed (see SinkEngine.onConfirmed). */
export type ConfirmedListener = (sink: Pick<RunnerStats, 'name' | 'kind'>, notifications: readonly StoredNotification[]) => void;

const TRIM_EVERY_MS = 3 * 60_000;
/** How many of the latest notifications (at least) are kept for runners that keep up: two of their pages. */
const RECENT = 2000;

/**
 * Runs the delivery of every sink this instance holds the lease of (one SinkRunner each). Leases
 * are renewed at a third of their length; a sink whose owner stopped renewing (it died) is taken
 * by whichever instance renews next. Each runner has its own transport and its own pace: a slow or
 * dead receiver holds back its own sink only, never the drainer, WebSocket pushes or other sinks.
 */
@Injectable()
export class SinkEngine implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SinkEngine.name);
  /** This instance, as the sinks' owner column names it. */
  readonly owner = randomUUID();
  private readonly runners = new Map<string, SinkRunner>();
  /** Runners given up (a lease lost, a sink deleted) whose last send is still being cut short. */
  private readonly stopping = new Set<Promise<void>>();
  /** When the last renewal was sent: leases run from about then. */
  private renewedAt = 0;
  /** Ends the wait between renewals: a new sink is claimed at once. */
  private readonly renewal = new WakeableSleep();
  private renewing: Promise<void> | undefined;
  private stopped = false;
  /** When delivery attempts were last trimmed (each sink keeps its newest KEPT_ATTEMPTS). */
  private trimmedAt = Date.now();
  private readonly recent = new RecentNotifications(RECENT);
  private readonly confirmedListeners = new Listeners<Parameters<ConfirmedListener>>((error) => this.logger.warn(`a listener of confirmed deliveries failed: ${error instanceof Error ? error.message : String(error)}`));

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly repository: SinkRepository,
    private readonly log: NotificationLog,
    private readonly tail: LiveTail,
  ) {}

  onModuleInit(): void {
    // Only while it delivers a sink here: a runner started later begins from the log.
    this.tail.listen('sinks', (notifications) => this.notificationsAppended(notifications), () => this.runners.size > 0);
  }

  onApplicationBootstrap(): void {
    // One loop, started here: runners it starts never run inside an HTTP request's context (its
    // log bindings), and a change that arrives during a claim wakes the next one.
    this.renewing = this.renewLeases();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.renewal.wake();
    await this.renewing;
    await Promise.all([...this.runners.values()].map((runner) => runner.stop()));
    this.runners.clear();
    await Promise.all(this.stopping);
    // Handed back at once, so another instance need not wait for the lease to run out.
    await this.repository.release(this.owner).catch(() => undefined);
  }

  /** The live tail's new notifications (a tail listener: in id order, each once; see TailListener). */
  notificationsAppended(notifications: readonly StoredNotification[]): void {
    // Kept only while this instance delivers a sink: a runner started later begins from the log.
    if (this.runners.size) this.recent.append(notifications);
    for (const runner of this.runners.values()) runner.wake();
  }

  /** A sink changed through the API: its runner (if here) acts on it now; a new sink is claimed now. */
  changed(sinkId: string): void {
    const runner = this.runners.get(sinkId);
    if (runner) runner.nudge();
    else this.renewal.wake();
  }

  /** Delivery counts of the sinks this instance delivers. */
  stats(): RunnerStats[] {
    return [...this.runners.values()].map((runner) => runner.stats);
  }

  /**
   * Calls `listener` with what each sink's receiver confirmed here, in log order (redeliveries
   * aside): metrics time it from commit. Returns its removal. A listener that throws is not retried.
   */
  onConfirmed(listener: ConfirmedListener): () => void {
    return this.confirmedListeners.add(listener);
  }


  private async renewLeases(): Promise<void> {
    while (!this.stopped) {
      await this.claim().catch((error: unknown) => this.logger.warn(`sink leases: ${error instanceof Error ? error.message : String(error)}`));
      await this.renewal.sleep(Math.max(100, Math.floor(this.config.sinks.leaseMs / 3)));
    }
  }

  private async claim(): Promise<void> {
    const sentAt = Date.now();
    const owned = new Set(await this.repository.claim(this.owner, this.config.sinks.leaseMs));
    this.renewedAt = sentAt;
    if (this.stopped) return;
    for (const [id, runner] of this.runners) {
      if (owned.has(id) && !runner.ended) continue;
      // Deleted, or its lease was taken over: stopped without holding up the renewal of the others.
      this.runners.delete(id);
      const stopping = runner.stop().catch(() => undefined);
      this.stopping.add(stopping);
      void stopping.finally(() => this.stopping.delete(stopping));
    }
    for (const id of owned) {
      if (this.runners.has(id)) continue;
      const runner = new SinkRunner(id, {
        owner: this.owner,
        repository: this.repository,
        log: this.log,
        recent: (after, limit) => this.recent.after(after, limit),
        transport: (sink) => this.transport(sink),
        retryDelay: (sink, attempt) => this.retryDelay(sink, attempt),
        // A tenth of the lease as margin for the clocks and the renewal's own round trip.
        leaseHeld: () => Date.now() < this.renewedAt + this.config.sinks.leaseMs * 0.9,
        confirmed: (stats, notifications) => this.confirmed(stats, notifications),
        logger: this.logger,
      });
      this.runners.set(id, runner);
      runner.start(() => {
        if (this.runners.get(id) === runner) this.runners.delete(id);
      });
    }
    // Attempts are kept for inspection, not forever.
    if (Date.now() - this.trimmedAt >= TRIM_EVERY_MS) {
      this.trimmedAt = Date.now();
      for (const id of owned) await this.repository.trimAttempts(id);
    }
  }

  private confirmed(stats: RunnerStats, notifications: readonly StoredNotification[]): void {
    this.confirmedListeners.tell(stats, notifications);
  }

  private transport(sink: Sink): SinkTransport {
    return driverFor(sink.kind).transport(sink, this.config.sinks, this.logger);
  }

  /** The sink's driver says how long (and whether) to wait; ±20% jitter, so receivers that come back are not hit in step. */
  private retryDelay(sink: Sink, attempt: number): number | undefined {
    const base = driverFor(sink.kind).retryDelay(attempt, this.config.sinks);
    return base === undefined ? undefined : Math.round(base * (0.8 + Math.random() * 0.4));
  }
}
