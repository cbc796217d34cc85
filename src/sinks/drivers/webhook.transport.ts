import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { DeliveryAttempt, SendResult, SinkMessage, SinkTransport } from '../sink-transport.js';
import { guardedLookup, refusedAddress } from './target-address.js';
import { signature } from './webhook-signature.js';

export interface WebhookTarget {
  url: string;
  /** The current secret first; a rotated one while its overlap lasts. */
  secrets: readonly string[];
  timeoutMs: number;
  allowPrivate: boolean;
}

/** Bytes of a response kept for the deliveries list. */
const EXCERPT_BYTES = 256;

/**
 * POSTs each notification to one endpoint, one request at a time, in order, over kept-alive
 * connections: the next request starts only after the previous one was answered with a 2xx.
 */
export class WebhookTransport implements SinkTransport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  /** Literal addresses never reach the lookup that guards names: checked once. */
  private readonly refused: string | undefined;

  constructor(private readonly target: WebhookTarget) {
    this.url = new URL(target.url);
    this.refused = refusedAddress(this.url.hostname, target.allowPrivate);
    const options = { keepAlive: true, maxSockets: 1, lookup: guardedLookup(target.allowPrivate) };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  }

  async send(messages: readonly SinkMessage[]): Promise<SendResult> {
    const attempts: DeliveryAttempt[] = [];
    for (const [index, message] of messages.entries()) {
      const attempt = this.refused ? refusal(message, this.refused) : await this.post(message);
      attempts.push(attempt);
      if (!attempt.delivered) {
        // 413 Content Too Large: the receiver will not take this body however often it comes.
        const tooLarge = attempt.statusCode === 413 ? { tooLarge: 'http_413' } : {};
        return { confirmed: index, error: attempt.detail, attempts, ...tooLarge };
      }
    }
    return { confirmed: messages.length, attempts };
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private post(message: SinkMessage, fresh = false): Promise<DeliveryAttempt> {
    const at = new Date();
    const started = performance.now();
    const timestamp = Math.floor(at.getTime() / 1000);
    const body = Buffer.from(message.body);
    const done = (outcome: { statusCode?: number; delivered: boolean; detail: string }): DeliveryAttempt => ({
      notificationId: message.id,
      at,
      latencyMs: Math.round(performance.now() - started),
      ...outcome,
    });
    return new Promise((resolve) => {
      const request = (this.url.protocol === 'https:' ? https : http).request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'user-agent': 'rowcast-webhooks',
          'webhook-id': message.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signature(this.target.secrets, message.id, timestamp, message.body),
        },
      });
      const timer = setTimeout(() => request.destroy(new TimeoutError(this.target.timeoutMs)), this.target.timeoutMs);
      const finish = (attempt: DeliveryAttempt) => {
        clearTimeout(timer);
        resolve(attempt);
      };
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the receiver closed just as the request went out: not the
        // receiver's answer, so once more on a new connection rather than a retry minutes later.
        if (request.reusedSocket && error.code === 'ECONNRESET' && !fresh) {
          clearTimeout(timer);
          resolve(this.post(message, true));
          return;
        }
        finish(done({ delivered: false, detail: describe(error) }));
      });
      request.on('response', (response) => {
        // The whole answer is read (the connection is reused), but only its start is kept.
        let excerpt = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (excerpt.length < EXCERPT_BYTES) excerpt += chunk.slice(0, EXCERPT_BYTES - excerpt.length);
        });
        response.on('error', (error) => finish(done({ statusCode: response.statusCode, delivered: false, detail: describe(error) })));
        response.on('end', () => {
          const statusCode = response.statusCode ?? 0;
          const delivered = statusCode >= 200 && statusCode < 300;
          const redirect = statusCode >= 300 && statusCode < 400 ? ' (redirects are not followed)' : '';
          finish(done({ statusCode, delivered, detail: `HTTP ${statusCode}${redirect}${excerpt ? `: ${excerpt}` : ''}` }));
        });
      });
      request.end(body);
    });
  }
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

function refusal(message: SinkMessage, reason: string): DeliveryAttempt {
  return { notificationId: message.id, at: new Date(), latencyMs: 0, delivered: false, detail: `refused: ${reason}` };
}

function describe(error: NodeJS.ErrnoException): string {
  if (error instanceof TimeoutError) return error.message;
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EPRIVATE':
      return `refused: ${error.message}`;
  }
  return error.message.slice(0, 200);
}
