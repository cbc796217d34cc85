import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { postgresError } from '../common/errors/postgres-error.js';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { LogDrainer } from '../log/log-drainer.js';
import { BackfillRepository } from './backfill.repository.js';
import { chunkCap, MIN_CHUNK, runChunks } from './chunks.js';
import { DrainGauge, MIN_SAMPLE } from './drain-gauge.js';

/** Backfills one instance runs at once (each a chunk at a time). */
const PARALLEL = 4;
/** How often the runner looks for running backfills when nobody woke it. */
const POLL_MS = 1_000;
/**
 * The longest a chunk waits for the previous one's reads to be in the log (DrainGauge): writers that
 * keep the drain busy, or a read the log leaves out, slow a backfill but never stop it.
 */
const MAX_HOLD_MS = 2_000;
/** A backfill whose chunks fail this many times in a row, for a reason a retry does not mend, is failed with the error. */
const MAX_FAILURES = 10;

/**
 * Whether a retry may mend what a chunk failed with: the database unreachable, restarting or short
 * of resources (no SQLSTATE, or classes 08, 53, 57, 58), a deadlock or serialization failure (40), a
 * lock not available (55P03). Anything else (the table's data, a bug) counts towards MAX_FAILURES.
 */
export function transient(error: unknown): boolean {
  const code = postgresError(error)?.code;
  return !code || ['08', '40', '53', '57', '58'].includes(code.slice(0, 2)) || code === '55P03';
}

/**
 * Runs the chunks of running backfills (capture.backfill_chunk: each one short transaction that
 * reads, appends and moves the cursor) on the instance that drains the journal, several backfills at
 * once, each one chunk at a time. What a backfill does next is in its row: a pause or a cancel
 * (REST) is seen at the next chunk; the chunk's advisory lock on its backfill keeps two runners (an
 * instance taking over, the CLI) from running one backfill at the same time. Stopping or crashing loses nothing: the cursor moved
 * with each chunk's reads, and whoever runs it next goes on from there.
 */
@Injectable()
export class BackfillRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BackfillRunner.name);
  private readonly active = new Map<string, Promise<void>>();
  private readonly failures = new Map<string, number>();
  private readonly pause = new WakeableSleep();
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** Rows this instance's chunks read (/metrics). */
  private read = 0;
  /** Each running backfill's reads not yet in the log; none without a drainer here (the CLI's process). */
  private readonly gauge: DrainGauge | undefined;

  constructor(
    private readonly repository: BackfillRepository,
    @Optional() private readonly drainer?: LogDrainer,
  ) {
    this.gauge = drainer && new DrainGauge(drainer);
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  /** Lets the chunk under way of each backfill commit, then stops. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    this.gauge?.stop();
    await this.loop;
    await Promise.all(this.active.values());
  }

  /** Rows the chunks this instance ran read, since it started. */
  get rowsRead(): number {
    return this.read;
  }

  /** Looks for running backfills now (one was started or resumed). */
  wake(): void {
    this.pause.wake();
  }

  private due(): boolean {
    return !this.stopping && (this.drainer?.getStatus().draining ?? true);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        if (this.due()) {
          for (const id of await this.repository.running()) {
            if (this.active.size >= PARALLEL) break;
            if (this.active.has(id)) continue;
            const following = this.follow(id)
              .catch((error: unknown) => this.logger.warn(`backfill ${id}: ${String(error)}`))
              .finally(() => {
                this.active.delete(id);
                this.pause.wake();
              });
            this.active.set(id, following);
          }
        }
      } catch (error) {
        this.logger.warn(`looking for running backfills failed: ${String(error)}`);
      }
      await this.pause.sleep(POLL_MS);
    }
  }

  /** Runs one backfill's chunks until it is no longer running (or no longer this instance's to run). */
  private async follow(id: string): Promise<void> {
    const size = (await this.repository.chunkSize(id)) ?? MIN_CHUNK;
    let last;
    /** What a read cost this backfill's last chunk of MIN_SAMPLE rows or more, in PostgreSQL (ms). */
    let chunkMsPerRead: number | undefined;
    this.gauge?.track(id);
    try {
      last = await runChunks(
        async (maxRows) => {
          const gauge = this.gauge;
          if (!gauge) return this.repository.chunk(id, maxRows);
          // Never below MIN_SAMPLE: a chunk that small would no longer tell the gauge what a read costs,
          // and one high reading would hold the backfill at the floor (the benchmark: 10-row chunks).
          const chunk = await this.repository.chunk(id, chunkCap(maxRows, gauge.live(), gauge.msPerRead, chunkMsPerRead, MIN_SAMPLE));
          if (!chunk?.read) return chunk;
          if (chunk.read >= MIN_SAMPLE && chunk.heldMs !== undefined) chunkMsPerRead = chunk.heldMs / chunk.read;
          gauge.wrote(id, chunk.read);
          // A live change that commits after this chunk waits for its reads (the drainer keeps commit
          // order): the next chunk waits until they are in the log, and is capped (chunkCap) while live
          // changes flow, so a live change waits behind one small chunk at most.
          // Never overlapped with the drain, while none flow either: where the app and PostgreSQL
          // share a core, a chunk that ran beside the drain took twice as long (its lock time, which
          // sizes it, is wall time) and the drain's cost per read, which caps it, read high too. Each
          // capped the next chunk smaller, the smaller batches cost more per read, and a backfill
          // settled at half the rate (the benchmark: 15.5–17.7k reads/s with chunks of ~550, against
          // 26.5–29.5k with chunks of ~1,000 not overlapped). On two cores not overlapping cost
          // nothing (42.7–44.9k against 38.9–44.3k).
          await gauge.logged(id, MAX_HOLD_MS);
          return chunk;
        },
        size,
        () => this.due(),
        (chunk) => (this.read += chunk.read),
      );
    } catch (error) {
      // The chunk rolled back whole (the cursor did not move): the next round tries again; an
      // error that keeps coming fails the backfill, with the error for whoever looks.
      const failures = (this.failures.get(id) ?? 0) + (transient(error) ? 0 : 1);
      this.failures.set(id, failures);
      if (failures < MAX_FAILURES) throw error;
      this.failures.delete(id);
      await this.repository.fail(id, error instanceof Error ? error.message : String(error));
      this.logger.error(`backfill ${id} failed: ${String(error)}`);
      return;
    } finally {
      this.gauge?.forget(id);
    }
    this.failures.delete(id);
    // Undefined: another instance holds it (a take-over under way); the next round looks again.
    if (last?.state === 'completed') this.logger.log(`backfill ${id} completed`);
  }
}
