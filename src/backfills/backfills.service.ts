import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { ActorContext } from '../common/actor/actor.context.js';
import { postgresError } from '../common/errors/postgres-error.js';
import { BackgroundReading } from '../database/background-reading.js';
import type { Backfill, BackfillState } from './backfill.js';
import { BackfillRepository } from './backfill.repository.js';
import { BackfillRunner } from './backfill-runner.js';
import { BackfillNotFound, BackfillRefused, BadBackfillRequest, UnknownSinks, UnknownTable, WrongBackfillState } from './backfills.errors.js';

/** What capture.backfill_start refuses, by SQLSTATE: a table it cannot read, a where it cannot apply. */
const REFUSALS: Record<string, (message: string) => Error> = {
  '55000': (message) => new BackfillRefused(message), // not under capture
  '42P16': (message) => new BackfillRefused(message), // no primary key
  '42703': (message) => new BackfillRefused(message), // where names a column the table lacks
  '22023': (message) => new BadBackfillRequest(message), // where is not {column: scalar}
};

/** Pause, resume, cancel: the states each may start from, and where it leads. */
const TRANSITIONS: Record<'pause' | 'resume' | 'cancel', { from: readonly BackfillState[]; to: BackfillState; done: string }> = {
  pause: { from: ['running'], to: 'paused', done: 'paused' },
  resume: { from: ['paused'], to: 'running', done: 'resumed' },
  cancel: { from: ['running', 'paused'], to: 'cancelled', done: 'cancelled' },
};

/** How often /metrics' reading of the backfills under way is refreshed. */
const STATS_EVERY_MS = 2000;
/** Backfills under way that /metrics shows at most (labels stay bounded whatever is started). */
const SHOWN_UNDER_WAY = 100;
/** Finished backfills /metrics goes on showing (the latest to finish), so their end is seen, then they drop out. */
const SHOWN_FINISHED = 5;

@Injectable()
export class BackfillsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly reading = new BackgroundReading(() => this.repository.current(SHOWN_UNDER_WAY, SHOWN_FINISHED), {
    everyMs: STATS_EVERY_MS,
    timeoutMs: 2000,
  });

  constructor(
    private readonly repository: BackfillRepository,
    private readonly runner: BackfillRunner,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.reading.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reading.stop();
  }

  /** The backfills running or paused, and the last few to finish, as last read (every 2 s): for /metrics. */
  standings(): Backfill[] {
    return this.reading.latest ?? [];
  }

  /** Rows this instance's runner read: for /metrics. */
  get rowsRead(): number {
    return this.runner.rowsRead;
  }

  /**
   * Starts a backfill of `table` (`invoices`, `public.invoices`, `sales.orders`), for the sinks
   * `destinations` names (by id or name) if given; the runner takes it at once.
   */
  async start(table: string, where: Backfill['where'] = null, destinations?: readonly string[]): Promise<Backfill> {
    const [schema, name] = table.includes('.') ? table.split('.') : ['public', table];
    const relid = await this.repository.resolveTable(schema, name);
    if (!relid) throw new UnknownTable(table);
    const sinks = destinations ? await this.sinks(destinations) : null;
    let backfill: Backfill;
    try {
      backfill = await this.repository.start(relid, where, sinks, ActorContext.current());
    } catch (error) {
      const refusal = REFUSALS[postgresError(error)?.code ?? ''];
      if (!refusal) throw error;
      throw refusal((error as Error).message.replace(/^backfill: /, ''));
    }
    this.runner.wake();
    return backfill;
  }

  /** The ids of the sinks `references` name (by id or name), each once; UnknownSinks names those no sink has. */
  private async sinks(references: readonly string[]): Promise<string[]> {
    const found = await this.repository.sinks(references);
    const unknown = references.filter((reference) => !found.has(reference));
    if (unknown.length) throw new UnknownSinks(unknown);
    return [...new Set(references.map((reference) => found.get(reference)!))];
  }

  list(limit = 100): Promise<Backfill[]> {
    return this.repository.list(limit);
  }

  async get(id: string): Promise<Backfill> {
    const backfill = await this.repository.get(id);
    if (!backfill) throw new BackfillNotFound(id);
    return backfill;
  }

  /** Pauses (no chunk after the one under way), resumes from the cursor, or cancels for good. */
  async transition(id: string, action: keyof typeof TRANSITIONS): Promise<Backfill> {
    const { from, to, done } = TRANSITIONS[action];
    const moved = await this.repository.transition(id, from, to, ActorContext.current());
    if (!moved) throw new WrongBackfillState(id, done, (await this.get(id)).state);
    if (to === 'running') this.runner.wake();
    return moved;
  }
}
