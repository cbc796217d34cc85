import { NotificationFilterDto } from '../events/notification-filter.js';

export const SINK_KINDS = ['webhook', 'rabbitmq', 'nats'] as const;
export type SinkKind = (typeof SINK_KINDS)[number];
export const SINK_STATES = ['active', 'paused', 'failing'] as const;
export type SinkState = (typeof SINK_STATES)[number];
/** What a webhook does with a notification its last attempt failed on. */
export const EXHAUSTED_ACTIONS = ['dead-letter', 'pause'] as const;
export type ExhaustedAction = (typeof EXHAUSTED_ACTIONS)[number];
/** A sink's name: unique, and the label of its metrics. */
export const SINK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface WebhookConfig {
  url: string;
}
export interface WebhookSecrets {
  current: string;
  /** A rotated-out secret, still signed with until `previousExpiresAt`. */
  previous?: string;
  previousExpiresAt?: string;
}
export interface RabbitMqConfig {
  exchange: string;
  /** The URL with its password replaced: what the API shows. */
  url: string;
}
export interface RabbitMqSecrets {
  url: string;
}
export interface NatsConfig {
  servers: string[];
  subjectPrefix: string;
  stream: string;
  user?: string;
}
export interface NatsSecrets {
  pass?: string;
  token?: string;
}

/** A sink as stored (table sinks). */
export interface Sink {
  id: string;
  kind: SinkKind;
  name: string;
  filter: NotificationFilterDto;
  config: WebhookConfig | RabbitMqConfig | NatsConfig;
  secrets: WebhookSecrets | RabbitMqSecrets | NatsSecrets;
  state: SinkState;
  onExhausted: ExhaustedAction;
  /** The highest notification id delivered or passed over. */
  position: bigint;
  lastError: string | null;
  lastErrorAt: Date | null;
  /** Holder of the lease: the instance delivering it. */
  owner: string | null;
  /** Counts moves of the position through the API (see the Sinks migration). */
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Until when a rotated-out secret is still signed with; null when none is (any more). */
export function previousSecretExpiry(secrets: WebhookSecrets, now = new Date()): Date | null {
  const expires = secrets.previous && secrets.previousExpiresAt ? new Date(secrets.previousExpiresAt) : null;
  return expires && expires > now ? expires : null;
}

/** The secrets a webhook signs with now: the current one, and a rotated one while it overlaps. */
export function signingSecrets(secrets: WebhookSecrets, now = new Date()): string[] {
  return previousSecretExpiry(secrets, now) ? [secrets.current, secrets.previous!] : [secrets.current];
}
