import { io, Socket } from 'socket.io-client';
import type { CheckpointMessage, NotificationMessage } from '../../client/src/protocol.js';
import { waitFor } from './wait.js';

export interface TestClient {
  socket: Socket;
  /** Every notification message, in the order they arrived. */
  received: NotificationMessage[];
  /** Every checkpoint message, in the order they arrived. */
  checkpoints: CheckpointMessage[];
  /** The messages for one subscription, in the order they arrived. */
  receivedFor(subscriptionId: string): NotificationMessage[];
  subscribe(request: unknown): Promise<Ack>;
  unsubscribe(request: unknown): Promise<Ack>;
  /** Waits until `count` notifications have arrived (or more). */
  waitFor(count: number, timeout?: number): Promise<NotificationMessage[]>;
  close(): void;
}

export type Ack = { ok: boolean; subscriptionId?: string; cursor?: string; error?: { code: string; message: string } };

/**
 * A real socket.io-client on the /events namespace, recording every notification it receives.
 * Rejects with the server's refusal (`message`, `data.code`) when the handshake is refused.
 */
export async function connectClient(url: string, options: { token?: string } = {}): Promise<TestClient> {
  const socket = io(`${url}/events`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: options.token === undefined ? {} : { token: options.token },
  });
  const received: NotificationMessage[] = [];
  socket.on('notification', (message: NotificationMessage) => received.push(message));
  const checkpoints: CheckpointMessage[] = [];
  socket.on('checkpoint', (message: CheckpointMessage) => checkpoints.push(message));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return {
    socket,
    received,
    checkpoints,
    receivedFor: (subscriptionId) => received.filter((message) => message.subscriptionIds.includes(subscriptionId)),
    subscribe: (request) => socket.timeout(10_000).emitWithAck('subscribe', request),
    unsubscribe: (request) => socket.timeout(10_000).emitWithAck('unsubscribe', request),
    waitFor: async (count, timeout = 20_000) => {
      await waitFor(() => received.length >= count, { timeout, what: `${count} notifications (have ${received.length})` });
      return received;
    },
    close: () => socket.close(),
  };
}
