import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = [
  'invoices:read',
  'invoices:write',
  'notifications:read',
  'events:subscribe',
  'webhooks:manage',
  'sinks:manage',
  'consumers:manage',
  'consumers:consume',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];
/** A key's name: what logs and `keys list` show. */
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** A key as the service knows it; the secret is known only as its SHA-256. */
export interface ApiKey {
  id: string;
  name: string;
  scopes: readonly Scope[];
  /** Tables whose changes the key may read (notifications, WebSocket); null: every table. */
  tables: readonly string[] | null;
  secretHash: Buffer;
  createdAt: Date;
  revokedAt: Date | null;
}

export function hasScope(key: ApiKey, scope: Scope): boolean {
  return key.scopes.includes(scope) || key.scopes.includes('admin');
}

/**
 * `rck_<key id, 32 hex>_<secret, 43 base64url>`: the id finds the row without comparing secrets,
 * the secret (256 random bits) is compared as a hash in constant time, and the prefix lets secret
 * scanners recognise a leaked key.
 */
const TOKEN = /^rck_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export function newSecret(id: string): { token: string; secretHash: Buffer } {
  const token = `rck_${id.replaceAll('-', '')}_${randomBytes(32).toString('base64url')}`;
  return { token, secretHash: sha256(token) };
}

/** The key id a token names, or undefined when it is not shaped like a key. */
export function tokenKeyId(token: string): string | undefined {
  const match = TOKEN.exec(token);
  if (!match) return undefined;
  const hex = match[1];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function secretMatches(token: string, secretHash: Buffer): boolean {
  return timingSafeEqual(sha256(token), secretHash);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
