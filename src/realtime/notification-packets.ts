import type { Socket } from 'socket.io';
import { SERVER_EVENTS, type NotificationMessage } from '../../client/src/protocol.js';
import { StoredNotification } from '../events/event-catalog.js';
import { toNotificationMessage } from '../events/notification-message.js';

/**
 * A notification encoded once for every client that gets it. Each `notification` message names
 * the subscriptions it is for, so no two clients get the same packet, and Socket.IO would encode
 * the whole notification (a JSON.stringify and a walk for binary data) for each of them. Here the
 * notification is encoded once, and each recipient's packet is that text with its subscription
 * ids put in front: `2/events,["notification",{"subscriptionIds":[…],"id":…}]`, which is what
 * socket.io-parser writes for the same message (an EVENT packet, no binary data, no ack id).
 */
export class EncodedNotification {
  private readonly message;
  private readonly rest: string;

  constructor(notification: StoredNotification) {
    this.message = toNotificationMessage(notification);
    // `{"id":…}` → `"id":…}]`: the object's members and the packet's end.
    this.rest = `${JSON.stringify(this.message).slice(1)}]`;
  }

  /**
   * Sends the notification to one client, naming its subscriptions that it is for; `head` is
   * packetHead(socket, subscriptionIds), which a caller may keep for a subscription.
   */
  sendTo(socket: Socket, subscriptionIds: readonly string[], head = packetHead(socket, subscriptionIds)): void {
    const client = socket.client as unknown as Partial<PacketWriter>;
    if (typeof client._packet !== 'function') {
      // A Socket.IO without the pre-encoded path: the same message, encoded by Socket.IO.
      socket.emit(SERVER_EVENTS.notification, { subscriptionIds: [...subscriptionIds], ...this.message } satisfies NotificationMessage);
      return;
    }
    client._packet([head + this.rest], { preEncoded: true });
  }
}

/** The start of a notification packet naming these subscriptions: everything before the notification's members. */
export function packetHead(socket: Socket, subscriptionIds: readonly string[]): string {
  return `2${socket.nsp.name},["${SERVER_EVENTS.notification}",{"subscriptionIds":${JSON.stringify(subscriptionIds)},`;
}

/**
 * socket.io's Client writes pre-encoded packets this way (its adapters broadcast through it); the
 * typings take only packet objects.
 */
interface PacketWriter {
  _packet(packets: string[], options: { preEncoded: true }): void;
}
