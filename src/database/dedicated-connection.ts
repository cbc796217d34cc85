import { Logger } from '@nestjs/common';
import pg from 'pg';
import { backoff } from '../common/backoff.js';
import { WakeableSleep } from './wakeable-sleep.js';

export interface DedicatedConnectionOptions {
  url: string | undefined;
  applicationName: string;
  /** Channels to LISTEN on; a notification wakes the session's sleep... */
  channels: readonly string[];
  /** ...unless this says it need not. */
  onNotification?: (message: pg.Notification) => boolean;
  maxBackoffMs: number;
  logger: Logger;
}

/**
 * One long-lived PostgreSQL connection outside the pool, owned by one service: connects, LISTENs,
 * runs the owner's session on it, and when the connection breaks or the session throws, backs off
 * (exponentially, with jitter) and starts over. The session reads `broken` (or calls
 * throwIfBroken) to notice a lost connection, and sleeps through `sleep`, which a notification, a
 * broken connection or stop() cuts short.
 */
export class DedicatedConnection {
  private readonly sleeper = new WakeableSleep();
  private client: pg.Client | undefined;
  private brokenBy: Error | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Consecutive failed sessions; the owner resets them (succeeded()) when work gets done. */
  private failures = 0;
  connected = false;
  reconnects = 0;

  constructor(private readonly options: DedicatedConnectionOptions) {}

  /**
   * Runs `session` on every new connection until stop(). Resolves once the first connection
   * attempt has ended, either way, or after `readyWithinMs`.
   */
  async start(session: (client: pg.Client) => Promise<void>, readyWithinMs = 5_000): Promise<void> {
    this.running = true;
    let firstAttemptDone!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (firstAttemptDone = resolve));
    this.loop = this.run(session, firstAttemptDone);
    await Promise.race([firstAttempt, new Promise((resolve) => setTimeout(resolve, readyWithinMs).unref())]);
  }

  /** Ends the session (it sees `running` false at its next sleep) and closes the connection. */
  async stop(): Promise<void> {
    this.running = false;
    this.sleeper.wake();
    await this.loop;
  }

  get isRunning(): boolean {
    return this.running;
  }

  get broken(): Error | undefined {
    return this.brokenBy;
  }

  throwIfBroken(): void {
    if (this.brokenBy) throw this.brokenBy;
  }

  succeeded(): void {
    this.failures = 0;
  }

  sleep(ms: number): Promise<void> {
    return this.sleeper.sleep(ms);
  }

  wake(): void {
    this.sleeper.wake();
  }

  private async run(session: (client: pg.Client) => Promise<void>, firstAttemptDone: () => void): Promise<void> {
    while (this.running) {
      try {
        const client = await this.connect();
        firstAttemptDone();
        await session(client);
      } catch (error) {
        firstAttemptDone();
        if (!this.running) break;
        // Consecutive failures back off, whether the connection broke or the session failed: a
        // failing session is retried, never hot-looped.
        this.failures++;
        this.reconnects++;
        const delay = backoff(this.failures, { maxMs: this.options.maxBackoffMs });
        const what = this.brokenBy ? 'connection lost' : 'failed';
        this.options.logger.warn(`${this.options.applicationName}: ${what} (${describe(error)}); reconnecting in ${delay} ms`);
        await this.disconnect();
        // The dead connection's own 'end'/'error' must not cut the backoff short (a hot loop).
        this.sleeper.forget();
        if (this.running) await this.sleeper.sleep(delay);
        continue;
      }
      if (this.running) await this.disconnect(); // a session that returned early starts over
    }
    await this.disconnect();
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: this.options.applicationName,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      // If this host freezes or is cut off, the server ends the session (and frees any advisory
      // lock it holds for a standby) within about 20 s instead of the OS default of two hours.
      options: '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=3 -c tcp_keepalives_count=3 -c tcp_user_timeout=20000',
    });
    this.brokenBy = undefined;
    const fail = (error: Error) => {
      if (client !== this.client) return; // a connection already given up on
      this.brokenBy ??= error;
      this.connected = false;
      this.sleeper.wake();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('connection ended')));
    client.on('notification', (message) => {
      if (this.options.onNotification?.(message) ?? true) this.sleeper.wake();
    });
    this.client = client;
    await client.connect();
    for (const channel of this.options.channels) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    this.connected = true;
    return client;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    if (client) await client.end().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
