import type { Socket } from 'socket.io';
import { type AckErrorCode, type ErrorNotice, SERVER_EVENTS } from '../../client/src/protocol.js';

/**
 * Codes of error acks; a client branches on the code, a person reads the message. The list lives
 * with the wire contract the client library shares (client/src/protocol.ts), held to the AsyncAPI
 * document by a test.
 */
export type RealtimeErrorCode = AckErrorCode;

export type Ack =
  | { ok: true; subscriptionId?: string; cursor?: string }
  | { ok: false; error: { code: RealtimeErrorCode; message: string } };

export function refuse(code: RealtimeErrorCode, message: string): Ack {
  return { ok: false, error: { code, message } };
}

/**
 * Tells a client why it is being disconnected, then disconnects it for good (Socket.IO clients do
 * not reconnect by themselves after a server-side disconnect); the notice is written first.
 */
export function sendAway(socket: Socket, notice: ErrorNotice): void {
  socket.emit(SERVER_EVENTS.errorNotice, notice);
  socket.disconnect(true);
}
