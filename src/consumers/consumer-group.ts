import { NotificationFilterDto } from '../events/notification-filter.js';
import { StoredNotification } from '../events/event-catalog.js';

export const CONSUMER_ORDERS = ['key', 'none'] as const;
/**
 * `key`: two changes of one row are never leased at once, and are leased in log order; `none`: any
 * order. The key is computed in SQL (consumer_ordering_key, migration ConsumerCalls).
 */
export type ConsumerOrder = (typeof CONSUMER_ORDERS)[number];
/** A group's name: unique, in its routes' paths and its metrics' labels. */
export const CONSUMER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A pull consumer group as stored (table consumer_groups). */
export interface ConsumerGroup {
  id: string;
  name: string;
  filter: NotificationFilterDto;
  order: ConsumerOrder;
  /** With order `key`: the columns whose values make the key (e.g. invoice_id: an invoice's items one at a time); null: the row's primary key. */
  keyColumns: string[] | null;
  ackWaitMs: number;
  maxAckPending: number;
  /** Deliveries after which a message is a dead letter; null: no limit. */
  maxDeliver: number | null;
  /** The wait before a nacked message (without its own delay) is delivered again, by its delivery count (the last one repeats); empty: at once. */
  backoffMs: number[];
  paused: boolean;
  /** Every matching notification up to it is a message of the group or was acknowledged. */
  scannedThrough: bigint;
  lastError: string | null;
  lastErrorAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** How many messages a group holds, by state, and its oldest not yet acknowledged. */
export interface ConsumerCounts {
  pending: number;
  inFlight: number;
  deadLetters: number;
  /** The lowest id neither acknowledged nor dead; null when there is none. */
  oldestUnacked: bigint | null;
}

/** A message as `receive` hands it out. */
export interface LeasedMessage {
  leaseId: string;
  /** 1 on its first delivery. */
  deliveries: number;
  leasedUntil: Date;
  notification: StoredNotification;
}
