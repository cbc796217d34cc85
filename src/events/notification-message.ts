import type { Notification, TruncatedNotification } from '../../client/src/protocol.js';
import { StoredNotification } from './event-catalog.js';

/** A notification as REST returns it, the gateway pushes it and sinks deliver it. */
export function toNotificationMessage({ id, event, createdAt, payload, coalesced }: StoredNotification): Notification {
  return { id, event, createdAt: createdAt.toISOString(), ...(coalesced && { coalesced }), payload };
}

/**
 * What a sink sends instead of a notification too large for its destination: its keys without
 * the rows, and where the whole one is (`GET /notifications/:id`: a path, since the service is not
 * told an address of its own).
 */
export function toTruncatedNotificationMessage({ id, event, createdAt, payload, coalesced }: StoredNotification): TruncatedNotification {
  const { schema, table, op, pk, actor, txId, changedAt } = payload;
  return {
    id,
    event,
    createdAt: createdAt.toISOString(),
    ...(coalesced && { coalesced }),
    truncated: true,
    href: `/notifications/${id}`,
    payload: { schema, table, op, pk, actor, txId, changedAt },
  };
}
