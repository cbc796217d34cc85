import { StoredNotification } from './event-catalog.js';

/** A notification as REST returns it and the gateway pushes it (NotificationDto). */
export function toNotificationMessage(notification: StoredNotification) {
  return { id: notification.id, event: notification.event, createdAt: notification.createdAt, payload: notification.payload };
}
