import type { Notification } from '../../client/src/protocol.js';
import { StoredNotification } from './event-catalog.js';

/** A notification as REST returns it, the gateway pushes it and sinks deliver it. */
export function toNotificationMessage({ id, event, createdAt, payload }: StoredNotification): Notification {
  return { id, event, createdAt: createdAt.toISOString(), payload };
}
