/** Codes of error acks; a client branches on the code, a person reads the message. */
export type RealtimeErrorCode =
  | 'INVALID_REQUEST'
  | 'MESSAGE_TOO_LARGE'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'UNKNOWN_SUBSCRIPTION'
  | 'SINCE_EXPIRED'
  | 'UNAVAILABLE'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'INTERNAL';

export type Ack =
  | { ok: true; subscriptionId?: string; cursor?: string }
  | { ok: false; error: { code: RealtimeErrorCode; message: string } };

export function refuse(code: RealtimeErrorCode, message: string): Ack {
  return { ok: false, error: { code, message } };
}
