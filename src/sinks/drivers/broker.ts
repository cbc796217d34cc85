import { backoff } from '../../common/backoff.js';
import { BadSinkRequest } from '../sinks.errors.js';
import type { SinksConfig } from './sink-driver.js';

/**
 * A broker URL its client can use (the DTO checked the scheme only). Credentials: in a RabbitMQ
 * URL (stored as a secret, shown redacted); never in NATS servers, which are shown as given.
 */
export function checkBrokerUrl(url: string, field: string, credentials: { allowed: true } | { allowed: false; instead: string }): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
    decodeURIComponent(parsed.username);
    decodeURIComponent(parsed.password);
  } catch {
    throw new BadSinkRequest(`${field} must be a valid URL (host, a port up to 65535, %-encoded user and password)`);
  }
  if (!parsed.hostname) throw new BadSinkRequest(`${field} must name a host`);
  if (!credentials.allowed && (parsed.username || parsed.password)) {
    throw new BadSinkRequest(`${field} must not hold credentials: ${credentials.instead}`);
  }
}

/** Brokers are retried without end, backing off exponentially up to `maxBackoffMs`. */
export function brokerRetryDelay(attempt: number, config: SinksConfig): number {
  return backoff(attempt, { maxMs: config.maxBackoffMs, jitter: false });
}
