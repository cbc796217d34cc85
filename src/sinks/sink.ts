import type { CoalesceMode } from '../../client/src/protocol.js';
import { NotificationFilterDto } from '../events/notification-filter.js';
import type { NatsSink } from './drivers/nats.driver.js';
import type { RabbitMqSink } from './drivers/rabbitmq.driver.js';
import type { WebhookSink } from './drivers/webhook.driver.js';

export const SINK_KINDS = ['webhook', 'rabbitmq', 'nats'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];
export const SINK_STATES = ['active', 'paused', 'failing'] as const;
export type SinkState = (typeof SINK_STATES)[number];
/** What a sink does with a notification its last attempt failed on (webhooks: brokers retry without end). */
export const EXHAUSTED_ACTIONS = ['dead-letter', 'pause'] as const;
export type ExhaustedAction = (typeof EXHAUSTED_ACTIONS)[number];
/** A sink's name: unique, and the label of its metrics. */
export const SINK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A sink as stored (table sinks), whatever its kind: `config` is what the API shows (redacted),
 * `secrets` what it never shows. Each kind's driver (drivers/) names its own two.
 */
export interface SinkOf<K extends SinkKind, Config, Secrets> {
  id: string;
  kind: K;
  name: string;
  filter: NotificationFilterDto;
  config: Config;
  secrets: Secrets;
  state: SinkState;
  onExhausted: ExhaustedAction;
  /** `transaction`: one net change per row per transaction (readCoalesced); null: every change. */
  coalesce: CoalesceMode | null;
  /** The highest notification id delivered or passed over. */
  position: bigint;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** When delivery succeeded again after `lastError`; null while that error is current. */
  recoveredAt: Date | null;
  /** The last notification delivered (not passed over or dead-lettered), and when; null before the first. */
  lastDeliveredId: bigint | null;
  lastDeliveredAt: Date | null;
  /** Holder of the lease: the instance delivering it. */
  owner: string | null;
  /** Counts moves of the position through the API (see the Sinks migration). */
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A sink as stored, discriminated by `kind`. */
export type Sink = WebhookSink | RabbitMqSink | NatsSink;
