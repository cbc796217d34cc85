import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { ChangesCapturedEvent, NOTIFICATIONS_CHANNEL } from '../events/event-catalog.js';
import { toNotificationPayload } from './notification.mapper.js';

/** Writes each captured change once to the notification log, inside the drainer's transaction. */
@Injectable()
export class NotificationHandler {
  @OnEvent(ChangesCapturedEvent.eventName, { suppressErrors: false })
  async persistNotifications(event: ChangesCapturedEvent): Promise<void> {
    const rows = event.changes.map((change) => ({
      change_id: change.changeId,
      event: change.event,
      table_name: change.qualifiedTable,
      entity_id: change.entityId,
      payload: toNotificationPayload(change),
    }));
    // One statement per batch; ids follow the batch's (commit) order. A change already in the log
    // (a batch retried after a lost connection) is left as it is.
    await event.sql(
      `INSERT INTO notifications (change_id, event, table_name, entity_id, payload)
       SELECT change_id, event, table_name, entity_id, payload
       FROM ROWS FROM (
              jsonb_to_recordset($1::jsonb) AS (change_id bigint, event text, table_name text, entity_id text, payload jsonb)
            ) WITH ORDINALITY AS r(change_id, event, table_name, entity_id, payload, ord)
       ORDER BY ord
       ON CONFLICT (change_id) DO NOTHING`,
      [JSON.stringify(rows)],
    );
    // Delivered at commit, once per batch (writers never NOTIFY for this): every instance's
    // NotificationFeed wakes and pushes the new notifications to its own clients.
    await event.sql(`SELECT pg_notify('${NOTIFICATIONS_CHANNEL}', '')`);
  }
}
