import type { Operation } from '../../client/src/protocol.js';

/**
 * One notification as a sink sends it: the body is the notification as REST returns it, as JSON
 * (or, when the destination refused that for its size, the truncated notification).
 */
export interface SinkMessage {
  /** The notification id: the message's id at the receiver (webhook-id, message-id, Nats-Msg-Id). */
  id: string;
  /** e.g. invoices.created */
  event: string;
  /** The table as the log names it: `invoices`, or `sales.orders` outside public. */
  table: string;
  op: Operation;
  body: string;
}

/** One request to a receiver, as `GET /webhooks/:id/deliveries` lists it. */
export interface DeliveryAttempt {
  notificationId: string;
  at: Date;
  /** The receiver's HTTP status; absent when there was no response. */
  statusCode?: number;
  latencyMs: number;
  delivered: boolean;
  /** Why it failed (timeout, refused, status …), or a bounded excerpt of the response. */
  detail: string;
}

/**
 * What a send achieved: the receiver confirmed the first `confirmed` messages, in order. When that
 * is fewer than were sent, `error` says why the next one was not confirmed: the engine retries
 * from it (the same ids, so a receiver can drop what it already has).
 */
export interface SendResult {
  confirmed: number;
  error?: string;
  /**
   * The next message was refused for its size, before anything after it went out (sending it
   * again will not help): why, as a short stable word for the metric (`max_payload`, `http_413`…).
   * The engine sends it truncated instead.
   */
  tooLarge?: string;
  /** Requests made, for transports that record them (webhooks). */
  attempts?: DeliveryAttempt[];
}

/**
 * A connection to one destination. The engine calls `send` for one sink at a time, never
 * concurrently, and in log order; a transport reconnects on its own and reports a destination it
 * cannot reach as an error result rather than by throwing.
 */
export interface SinkTransport {
  send(messages: readonly SinkMessage[]): Promise<SendResult>;
  close(): Promise<void>;
}
