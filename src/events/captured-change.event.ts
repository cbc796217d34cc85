import type { Operation, SchemaChange } from '../../client/src/protocol.js';

export type ChangeOp = Operation;

const VERB: Record<ChangeOp, string> = {
  INSERT: 'created',
  UPDATE: 'updated',
  DELETE: 'deleted',
  TRUNCATE: 'truncated',
  SCHEMA_CHANGE: 'schema_changed',
  READ: 'read',
  BACKFILL_STARTED: 'backfill_started',
  BACKFILL_COMPLETED: 'backfill_completed',
  BACKFILL_STOPPED: 'backfill_stopped',
};

/** The last part of every event name a table's changes have. */
export const EVENT_VERBS: readonly string[] = Object.values(VERB);

/** `invoices` in the public schema, `sales.orders` elsewhere. */
export function qualifiedTable(schema: string, table: string): string {
  return schema === 'public' ? table : `${schema}.${table}`;
}

/** `<table>.<created|updated|deleted|truncated|schema_changed|read|backfill_…>`, e.g. `invoice_items.updated` or `sales.orders.deleted`. */
export function eventName(schema: string, table: string, op: ChangeOp): string {
  return `${qualifiedTable(schema, table)}.${VERB[op]}`;
}

/** One committed change of a captured table (a row's, or the whole table's), as read from the journal. */
export class CapturedChange {
  constructor(
    /** The journal row's id (capture.changes.id). */
    readonly changeId: string,
    /** The writing transaction (xid8). */
    readonly txId: string,
    readonly schema: string,
    readonly table: string,
    readonly op: ChangeOp,
    /** null for TRUNCATE, SCHEMA_CHANGE and a backfill's own events. */
    readonly pk: Record<string, unknown> | null,
    readonly newRow: Record<string, unknown> | null,
    readonly oldRow: Record<string, unknown> | null,
    readonly changedColumns: string[] | null,
    readonly actor: string,
    readonly changedAt: Date,
    readonly schemaChange?: SchemaChange,
    /** Only for READ and a backfill's own events: the backfill. */
    readonly backfillId?: string,
    /** Only for those of a backfill aimed at chosen sinks: their ids. */
    readonly destinations?: string[],
  ) {}

  get event(): string {
    return eventName(this.schema, this.table, this.op);
  }

  get qualifiedTable(): string {
    return qualifiedTable(this.schema, this.table);
  }

  /** The row's identity as one string: its key's value, or the key as JSON when it has several columns; null for table events. */
  get entityId(): string | null {
    if (!this.pk) return null;
    const values = Object.values(this.pk);
    return values.length === 1 ? String(values[0]) : JSON.stringify(this.pk);
  }
}
