import type { NotificationPayload } from '../../client/src/protocol.js';
import { CapturedChange } from '../events/captured-change.event.js';

/** The payload as DESIGN.md shows it; rows stay as PostgreSQL's to_jsonb wrote them. */
export function toNotificationPayload(change: CapturedChange): NotificationPayload {
  return {
    schema: change.schema,
    table: change.table,
    op: change.op,
    pk: change.pk,
    new: change.newRow,
    old: change.oldRow,
    changedColumns: change.changedColumns,
    ...(change.schemaChange && { schemaChange: change.schemaChange }),
    ...(change.backfillId && { backfill: change.backfillId }),
    ...(change.destinations && { destinations: change.destinations }),
    actor: change.actor,
    txId: change.txId,
    changedAt: change.changedAt.toISOString(),
  };
}
