import { CapturedChange } from './captured-change.event.js';

/** Runs SQL inside the drainer's open transaction. */
export type TransactionSql = <R extends object = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>;

/**
 * Emitted by PgListener for each batch it drains from the journal, in commit order. Handlers run
 * inside the drainer's transaction (`sql`): what they write commits together with the drainer's
 * cursor, or not at all. A handler that throws makes the whole batch roll back and be retried.
 */
export class ChangesCapturedEvent {
  static readonly eventName = 'capture.changes';

  constructor(
    readonly changes: readonly CapturedChange[],
    readonly sql: TransactionSql,
  ) {}
}
