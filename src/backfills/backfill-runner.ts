import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { WakeableSleep } from '../database/wakeable-sleep.js';
import { LogDrainer } from '../log/log-drainer.js';
import { BackfillRepository } from './backfill.repository.js';

/** How long a chunk may hold its row locks, aimed at (issue 19 asks ≤ 50 ms; the round trip is measured, so aim lower). */
export const CHUNK_TARGET_MS = 40;
export const MIN_CHUNK = 10;
export const MAX_CHUNK = 10_000;
/** Backfills one instance runs at once (each a chunk at a time). */
const PARALLEL = 4;
/** How often the runner looks for running backfills when nobody woke it. */
const POLL_MS = 1_000;
/** A backfill whose chunks fail this many times in a row (not a deadlock or a lost connection once) is failed with the error. */
const MAX_FAILURES = 10;

/**
 * The next chunk's size from the last one's: scaled towards CHUNK_TARGET_MS, at most halved or
 * doubled at a time. A chunk that read fewer rows than asked (the end, a sparse where) and was quick
 * says nothing about a bigger one; a slow one shrinks whatever it read.
 */
export function nextChunkSize(size: number, tookMs: number, read: number): number {
  if (tookMs <= CHUNK_TARGET_MS && read < size) return size;
  const scaled = (size * CHUNK_TARGET_MS) / Math.max(tookMs, 1);
  return Math.round(Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, size / 2, Math.min(size * 2, scaled))));
}

/**
 * Runs the chunks of running backfills (capture.backfill_chunk: each one short transaction that
 * reads, appends and moves the cursor) on the instance that drains the journal, several backfills at
 * once, each one chunk at a time. What a backfill does next is in its row: a pause or a cancel
 * (REST, CLI) is seen at the next chunk; the row's lock keeps two runners (an instance taking over)
 * from running one backfill at the same time. Stopping or crashing loses nothing: the cursor moved
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

  constructor(
    private readonly repository: BackfillRepository,
    @Optional() private readonly drainer?: LogDrainer,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  /** Lets the chunk under way of each backfill commit, then stops. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.pause.wake();
    await this.loop;
    await Promise.all(this.active.values());
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
    let size = (await this.repository.chunkSize(id)) ?? MIN_CHUNK;
    while (this.due()) {
      const started = performance.now();
      let result;
      try {
        result = await this.repository.chunk(id, size);
      } catch (error) {
        // The chunk rolled back whole (the cursor did not move): the next round tries again; an
        // error that keeps coming fails the backfill, with the error for whoever looks.
        const failures = (this.failures.get(id) ?? 0) + 1;
        this.failures.set(id, failures);
        if (failures < MAX_FAILURES) throw error;
        this.failures.delete(id);
        await this.repository.fail(id, String((error as Error).message ?? error));
        this.logger.error(`backfill ${id} failed: ${String(error)}`);
        return;
      }
      this.failures.delete(id);
      // Another instance holds it (a take-over under way): the next round looks again.
      if (!result) return;
      if (result.state !== 'running') {
        if (result.state === 'completed') this.logger.log(`backfill ${id} completed`);
        return;
      }
      size = nextChunkSize(size, performance.now() - started, result.read);
    }
  }
}
