import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import pg from 'pg';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ChangesCapturedEvent, TransactionSql } from '../events/event-catalog.js';
import { parseJournalRow } from './change.parser.js';
import { JournalBatch, JournalReader, QueryRows } from './journal-reader.js';
import { backoff, WakeableSleep } from '../database/wakeable-sleep.js';

/** Any constant shared by every instance: the holder of this advisory lock is the one drainer. */
const DRAIN_LOCK = 7_160_902;
const CHANNEL = 'capture';

export interface ListenerStatus {
  /** The dedicated connection is up and listening. */
  connected: boolean;
  /** This instance holds the drain lock (the others stand by to take over). */
  draining: boolean;
  reconnects: number;
  /** Largest batch read so far (rows); bounded by CAPTURE_BATCH_SIZE. */
  largestBatch: number;
  /** Journal rows drained (committed) by this instance. */
  drained: number;
  /** Drain transactions run so far, empty ones included. */
  rounds: number;
}

/**
 * Owns one dedicated connection outside the pool: LISTENs for wake-ups, holds the drain lock,
 * and drains the journal in commit order into typed events. The persisted cursor advances in the
 * same transaction as whatever the handlers write, only after they all succeed. Any connection
 * loss (a terminated backend, a database restart) ends the session; the next one reconnects with
 * backoff and starts from the persisted cursor, so nothing is lost and nothing is done twice.
 */
@Injectable()
export class PgListener implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(PgListener.name);
  private readonly reader: JournalReader;
  private client: pg.Client | undefined;
  private broken: Error | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly sleeper = new WakeableSleep();
  private firstAttemptDone: (() => void) | undefined;
  /** Consecutive failed sessions; reset by a successful drain. */
  private failures = 0;
  private readonly status: ListenerStatus = {
    connected: false,
    draining: false,
    reconnects: 0,
    largestBatch: 0,
    drained: 0,
    rounds: 0,
  };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly events: EventEmitter2,
  ) {
    this.reader = new JournalReader(config.capture.batchSize, config.capture.batchBytes);
  }

  /** Starts the loop; the app is ready once the first connection attempt has ended (bounded). */
  async onApplicationBootstrap(): Promise<void> {
    this.running = true;
    const firstAttempt = new Promise<void>((resolve) => (this.firstAttemptDone = resolve));
    this.loop = this.run();
    await Promise.race([firstAttempt, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  }

  /**
   * Finishes the batch in flight (its transaction commits), then closes. Runs before Nest closes
   * the HTTP server, so a slow HTTP client cannot hold the drain up.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wakeUp();
    await this.loop;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.beforeApplicationShutdown();
  }

  getStatus(): ListenerStatus {
    return { ...this.status };
  }

  /** Undrained journal rows and the age of the oldest, read through the caller's connection. */
  backlog(query: QueryRows): Promise<{ backlog: number; lagMs: number }> {
    return this.reader.backlog(query);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.connect();
        this.firstAttemptDone?.();
        await this.session();
      } catch (error) {
        this.firstAttemptDone?.();
        if (!this.running) break;
        // Consecutive failures back off, whether the connection broke or a batch failed (a
        // handler error rolls the batch back; it is retried, never skipped, never hot-looped).
        this.failures++;
        this.status.reconnects++;
        const delay = backoff(this.failures, this.config.capture.maxBackoffMs);
        const what = this.broken ? 'listener connection lost' : 'drain failed';
        this.logger.warn(`${what} (${describe(error)}); reconnecting in ${delay} ms`);
        await this.disconnect();
        // The dead connection's own 'end'/'error' must not cut the backoff short (a hot loop).
        this.sleeper.forget();
        if (this.running) await this.sleep(delay);
      }
    }
    await this.stopListening();
    await this.disconnect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.config.databaseUrl,
      application_name: 'rowcast-listener',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      // If this host freezes or is cut off, the server ends the session (and frees the drain
      // lock for a standby) within about 20 s instead of the OS default of two hours.
      options: '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=3 -c tcp_keepalives_count=3 -c tcp_user_timeout=20000',
    });
    this.broken = undefined;
    const fail = (error: Error) => {
      if (client !== this.client) return; // a connection already given up on
      this.broken ??= error;
      this.status.connected = false;
      this.wakeUp();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', () => this.wakeUp());
    this.client = client;
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.status.connected = true;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.status.connected = false;
    this.status.draining = false;
    if (client) await client.end().catch(() => undefined);
  }

  private async session(): Promise<void> {
    const client = this.client!;
    while (this.running && !(await this.tryLock(client))) {
      await this.sleep(this.config.capture.takeoverIntervalMs);
      this.throwIfBroken();
    }
    if (!this.running) return;
    this.status.draining = true;
    this.logger.log('draining the journal');
    let idleSince: number | undefined;
    while (this.running) {
      this.throwIfBroken();
      const moved = await this.drainOnce(client);
      if (moved > 0) {
        idleSince = undefined;
        // A trickle: wait a moment so that the next batch carries more. Every drain transaction
        // costs round trips and CPU that the writers share on a small machine.
        if (moved < this.config.capture.batchSize / 10) await this.sleep(this.config.capture.pollIntervalMs);
        continue;
      }
      idleSince ??= Date.now();
      if (Date.now() - idleSince < this.config.capture.lingerMs) {
        await this.sleep(this.config.capture.pollIntervalMs);
        continue;
      }
      // Idle: ask writers to wake us, look once more (a commit may have slipped in before the
      // flag), then sleep on LISTEN with a slow safety poll for the race at the flag.
      await this.setListening(client, true);
      if ((await this.drainOnce(client)) === 0) await this.sleep(this.config.capture.safetyPollMs);
      await this.setListening(client, false);
      idleSince = undefined;
    }
  }

  /** A stopped drainer must not leave writers NOTIFYing (and taking the commit lock) for nobody. */
  private async stopListening(): Promise<void> {
    if (this.client && this.status.draining && !this.broken) {
      await this.setListening(this.client, false).catch(() => undefined);
    }
  }

  private async tryLock(client: pg.Client): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [DRAIN_LOCK]);
    return rows[0].locked;
  }

  private async setListening(client: pg.Client, listening: boolean): Promise<void> {
    // An unlogged table loses its row after a crash; upsert puts it back.
    await client.query(
      `INSERT INTO capture.wakeup (id, listening) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET listening = excluded.listening`,
      [listening],
    );
  }

  /** One batch in one transaction; returns how much it moved (0 when there was nothing). */
  private async drainOnce(client: pg.Client): Promise<number> {
    await client.query('BEGIN');
    try {
      const batch = await this.reader.read(client);
      if (batch.rows.length === 0 && batch.completed.length === 0) {
        await client.query('COMMIT');
        this.status.rounds++;
        this.failures = 0;
        return 0;
      }
      this.status.largestBatch = Math.max(this.status.largestBatch, batch.rows.length);
      await this.emit(client, batch);
      await this.reader.advance(client, batch);
      await client.query('COMMIT');
      this.status.rounds++;
      this.status.drained += batch.rows.length;
      this.failures = 0;
      return batch.rows.length + batch.completed.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async emit(client: pg.Client, batch: JournalBatch): Promise<void> {
    const changes = [];
    for (const row of batch.rows) {
      const parsed = parseJournalRow(row);
      if ('skip' in parsed) this.logger.warn(`skipping journal row ${row.id}: ${parsed.skip}`);
      else changes.push(parsed.change);
    }
    if (changes.length === 0) return;
    const sql: TransactionSql = async (text, values) => (await client.query(text, values)).rows;
    await this.events.emitAsync(ChangesCapturedEvent.eventName, new ChangesCapturedEvent(changes, sql));
  }

  private throwIfBroken(): void {
    if (this.broken) throw this.broken;
  }

  private wakeUp(): void {
    this.sleeper.wake();
  }

  private sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
