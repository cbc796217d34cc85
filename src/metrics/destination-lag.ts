import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ConsumersService } from '../consumers/consumers.service.js';
import { BackgroundReading } from '../database/background-reading.js';
import { commitTimeOf } from '../events/commit-time.js';
import { LiveTail } from '../log/live-tail.js';
import { NotificationLog } from '../log/notification-log.js';
import { SubscriptionsService } from '../realtime/subscriptions.service.js';
import { SinkEngine } from '../sinks/sink-engine.service.js';

/** The WebSocket clients of an instance, as one destination. */
export const WEBSOCKET_DESTINATION = { kind: 'websocket', destination: 'websocket' } as const;

/** How far one destination is behind the log. */
export interface DestinationLagValue {
  /** webhook, rabbitmq, nats (sinks), consumer (a pull consumer group) or websocket. */
  kind: string;
  /** The sink's or group's name; `websocket` for the clients as a whole. */
  destination: string;
  /** Notifications in the log after the destination's confirmed position (head id − confirmed id). */
  events: number;
  /** Seconds since the first of them committed (commitTimeOf); 0 when caught up. */
  seconds: number;
}

/** The log's head and, per destination read, when the first notification after its position committed. */
interface Reading {
  head: bigint;
  /** By `kind/destination`: the position read and that notification's commit time (ms). */
  oldest: Map<string, { position: bigint; committedAt: number }>;
}

/** A destination's confirmed position, as kept in memory. */
interface Position {
  kind: string;
  destination: string;
  position: bigint;
  /** A sink's: when the notification it is sending now committed. */
  sendingSince?: number;
}

const EVERY_MS = 1000;
const TIMEOUT_MS = 2000;

/**
 * Lag by position of every destination this instance serves: the sinks it delivers, its WebSocket
 * clients as a whole, and every consumer group (read by ConsumersService every 5 s, the same on
 * every instance). Positions are in memory; what they need from the database (where the log ends,
 * and when the first notification after each position committed) is read in the background every
 * second in one round of index probes, so a scrape never waits on a query. Events are counted at
 * the scrape from the live positions; seconds run from the commit time read, so they grow while a
 * destination is stuck and read 0 once it is caught up, however long the log then stays idle.
 */
@Injectable()
export class DestinationLag implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly reading = new BackgroundReading(() => this.read(), { everyMs: EVERY_MS, timeoutMs: TIMEOUT_MS });

  constructor(
    private readonly log: NotificationLog,
    private readonly tail: LiveTail,
    private readonly sinks: SinkEngine,
    private readonly subscriptions: SubscriptionsService,
    private readonly consumers: ConsumersService,
  ) {}

  onApplicationBootstrap(): void {
    // Not awaited: start-up does not wait on a database that is slow to answer (the lag reads as
    // events only, 0 s, until the first reading).
    void this.reading.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reading.stop();
  }

  /** Every destination's lag as of now (sinks delivered here, this instance's clients, every group). */
  values(): DestinationLagValue[] {
    const reading = this.reading.latest;
    const head = max(reading?.head ?? 0n, this.tail.lastId);
    const now = Date.now();
    const lag = ({ kind, destination, position, sendingSince }: Position): DestinationLagValue => {
      if (position >= head) return { kind, destination, events: 0, seconds: 0 };
      // What a sink is sending now, known exactly; else the reading, when it was for this position
      // or one before it (then it committed no later than what is first now: at most a second high).
      const oldest = reading?.oldest.get(`${kind}/${destination}`);
      const since = sendingSince ?? (oldest && oldest.position <= position ? oldest.committedAt : undefined);
      return { kind, destination, events: Number(head - position), seconds: since === undefined ? 0 : Math.max(0, (now - since) / 1000) };
    };
    const positions = this.positions();
    // Always there, so that an alert reads 0: without subscriptions no client here is behind.
    const sockets = positions.some(({ kind }) => kind === WEBSOCKET_DESTINATION.kind) ? [] : [{ ...WEBSOCKET_DESTINATION, events: 0, seconds: 0 }];
    return [
      ...positions.map(lag),
      ...sockets,
      ...this.consumers.standings().map((group) => ({
        kind: 'consumer',
        destination: group.name,
        events: group.lagNotifications,
        seconds: group.oldestCommitAt === undefined || group.lagNotifications === 0 ? 0 : Math.max(0, (now - group.oldestCommitAt) / 1000),
      })),
    ];
  }

  /** The positions kept in memory here: each sink this instance delivers, and its lowest subscription. */
  private positions(): Position[] {
    const sinks = this.sinks
      .stats()
      .filter((stats) => stats.name)
      .map((stats) => ({ kind: stats.kind as string, destination: stats.name, position: stats.position, sendingSince: stats.sendingSince }));
    const sockets = this.subscriptions.lowestPosition;
    return sockets === undefined ? sinks : [...sinks, { ...WEBSOCKET_DESTINATION, position: sockets }];
  }

  private async read(): Promise<Reading> {
    const positions = this.positions();
    const head = await this.log.lastId();
    const behind = [...new Set(positions.filter(({ position }) => position < head).map(({ position }) => position + 1n))];
    const committed = new Map((await this.log.getMany(behind)).map((notification) => [BigInt(notification.id), commitTimeOf(notification)]));
    const oldest = new Map<string, { position: bigint; committedAt: number }>();
    for (const { kind, destination, position } of positions) {
      const committedAt = committed.get(position + 1n);
      if (committedAt !== undefined) oldest.set(`${kind}/${destination}`, { position, committedAt });
    }
    return { head, oldest };
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
