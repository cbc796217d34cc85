import { createHmac, randomBytes } from 'node:crypto';

/** A new endpoint secret in Standard Webhooks' form: `whsec_` and 24 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/**
 * The `webhook-signature` header (standardwebhooks.com): `v1,` and the base64 HMAC-SHA256 of
 * `id.timestamp.body` keyed with the secret's bytes, one per secret, space-separated (while a
 * rotated secret overlaps, receivers holding either one can verify).
 */
export function signature(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((secret) => `v1,${createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
}
