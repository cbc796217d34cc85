import type { SinkOf } from '../sink.js';
import { BadSinkRequest, SinkTargetRefused } from '../sinks.errors.js';
import { refusedTarget } from './target-address.js';
import { newWebhookSecret } from './webhook-signature.js';
import { WebhookTransport } from './webhook.transport.js';
import type { SinkDriver, SinksConfig } from './sink-driver.js';
import { CreatedWebhookDto, WebhookSettingsChangesDto, WebhookSettingsDto, WebhookSinkDto } from './webhook.dto.js';

export interface WebhookConfig {
  url: string;
}
export interface WebhookSecrets {
  current: string;
  /** A rotated-out secret, still signed with until `previousExpiresAt`. */
  previous?: string;
  previousExpiresAt?: string;
}
export type WebhookSink = SinkOf<'webhook', WebhookConfig, WebhookSecrets>;

/** Until when a rotated-out secret is still signed with; null when none is (any more). */
export function previousSecretExpiry(secrets: WebhookSecrets, now = new Date()): Date | null {
  const expires = secrets.previous && secrets.previousExpiresAt ? new Date(secrets.previousExpiresAt) : null;
  return expires && expires > now ? expires : null;
}

/** The secrets a webhook signs with now: the current one, and a rotated one while it overlaps. */
export function signingSecrets(secrets: WebhookSecrets, now = new Date()): string[] {
  return previousSecretExpiry(secrets, now) ? [secrets.current, secrets.previous!] : [secrets.current];
}

/** A new signing secret; the current one goes on being signed with for `overlapSeconds` (none: 0). */
export function rotatedSecrets(secrets: WebhookSecrets, overlapSeconds: number): { secrets: WebhookSecrets; previousExpiresAt: Date | null } {
  const expires = overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null;
  const previous = expires ? { previous: secrets.current, previousExpiresAt: expires.toISOString() } : {};
  return { secrets: { current: newWebhookSecret(), ...previous }, previousExpiresAt: expires };
}

/** Standard Webhooks over HTTP: signed POSTs, one at a time, retried on a schedule, then given up on. */
export const webhookDriver: SinkDriver<WebhookSink, WebhookSettingsDto, WebhookSettingsChangesDto, WebhookSinkDto> = {
  kind: 'webhook',
  dto: { create: WebhookSettingsDto, update: WebhookSettingsChangesDto, sink: WebhookSinkDto, created: CreatedWebhookDto },
  minimalSettings: { url: 'https://receiver.example.com/hooks' },
  givesUp: true,
  // Posted one by one: the runner looks for changes between sends.
  sendSize: 100,

  async configure(settings, config) {
    await checkTarget(settings.url, config);
    const secret = newWebhookSecret();
    return { config: { url: settings.url }, secrets: { current: secret }, shownOnce: { secret } };
  },

  async reconfigure(sink, changes, config) {
    if (changes.url !== undefined) await checkTarget(changes.url, config);
    return { config: { ...sink.config, url: changes.url ?? sink.config.url }, secrets: sink.secrets };
  },

  view: (sink) => ({ settings: { url: sink.config.url }, previousSecretExpiresAt: previousSecretExpiry(sink.secrets) }),

  transport: (sink, config) =>
    new WebhookTransport({
      url: sink.config.url,
      secrets: signingSecrets(sink.secrets),
      timeoutMs: config.webhook.timeoutMs,
      allowPrivate: config.webhook.allowPrivate,
    }),

  // A rotated secret that stops overlapping changes what is signed, not the sink's row.
  transportIdentity: (sink, now) => String(previousSecretExpiry(sink.secrets, now) !== null),

  // Its schedule (Standard Webhooks' suggestion by default), then the notification is given up on.
  retryDelay: (attempt, config) => config.webhook.retryScheduleMs[attempt - 1],
};

async function checkTarget(url: string, config: SinksConfig): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadSinkRequest('url must be an http:// or https:// URL');
  }
  if (parsed.username || parsed.password) {
    throw new BadSinkRequest('url must not hold credentials (user:password@): a receiver knows rowcast by the signature');
  }
  const refused = await refusedTarget(parsed.hostname, config.webhook.allowPrivate);
  if (refused) throw new SinkTargetRefused(refused);
}
