import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { AMQPChannelError, AMQPConnectionError, AMQPError, Connection, Envelope, Publisher } from 'rabbitmq-client';
import { SendResult, SinkMessage, SinkTransport } from '../sink-transport.js';
import { AMQP_HEADERS } from './message-labels.js';

export interface RabbitMqSinkConfig {
  /** amqp:// or amqps://, usually with credentials: only ever shown through redactUrl. */
  url: string;
  /** Declared as a durable topic exchange; each message's routing key is its event. */
  exchange: string;
  /** Longest a send (or close) may take; 10 s by default. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
// The library's default backoff grows to 30 s; a broker that is back should be used within seconds.
const RECONNECT_LOW_MS = 250;
const RECONNECT_HIGH_MS = 5_000;

/** The URL with its password replaced by `***`, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      parsed.password = '***';
      return parsed.href;
    }
  } catch {
    // redacted below
  }
  // The parser saw no password (or no URL), yet a raw `/` in one can make it see a path instead:
  // hide everything from the first `:` after `//` up to the last `@`.
  return url.replace(/^([^:/]+:\/\/[^:@/]*):.*@/, '$1:***@');
}

/**
 * Publishes to one RabbitMQ exchange with publisher confirms. The connection is opened at
 * construction and reconnects on its own (rabbitmq-client does); the publisher's channel, and the
 * exchange declaration, are set up again on the first publish after a reconnect.
 */
export class RabbitMqTransport implements SinkTransport {
  private readonly connection: Connection;
  private readonly publisher: Publisher;
  private readonly exchange: string;
  private readonly timeoutMs: number;
  private readonly where: string;
  /** Why the connection is down or blocked, while it is: a timed-out send says so. */
  private connectionError: string | undefined;
  /**
   * Whether a send should say at once that the broker cannot be used rather than wait for it: until
   * the connection first opens, and while the broker refuses the login (retrying will not fix it).
   */
  private failFast = true;
  /** Wakes a send waiting for the connection's first outcome. */
  private readonly outcome = new EventEmitter();
  private closing: Promise<void> | undefined;
  /**
   * The broker's `max_message_size`, once a refusal named it. The broker closes the channel on a
   * message over it, and confirms of earlier publishes not yet sent die with it; knowing the
   * limit, the retry stops before that message, and what is before it is confirmed.
   */
  private maxMessageSize: number | undefined;

  constructor(
    config: RabbitMqSinkConfig,
    private readonly logger = new Logger(RabbitMqTransport.name),
  ) {
    this.exchange = config.exchange;
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.where = `${redactUrl(config.url)} exchange ${config.exchange}`;
    try {
      this.connection = new Connection({
        url: config.url,
        connectionName: 'rowcast-sink',
        retryLow: RECONNECT_LOW_MS,
        retryHigh: RECONNECT_HIGH_MS,
        connectionTimeout: this.timeoutMs,
        // A publish waiting longer for a channel than its send may take would only go out late.
        acquireTimeout: this.timeoutMs,
      });
    } catch (error) {
      // The URL parser's error carries the whole URL (its `input`): never pass it on.
      throw new Error(`invalid RabbitMQ URL ${redactUrl(config.url)}: ${reason(error)}`);
    }
    this.connection.on('connection', () => {
      this.connectionError = undefined;
      this.failFast = false;
      this.outcome.emit('outcome');
      this.logger.log(`connected to ${this.where}`);
    });
    // Without a listener an 'error' event would crash the process. The library emits only the
    // first error of a series of failed reconnects, so this does not flood the log.
    this.connection.on('error', (error: unknown) => {
      this.connectionError = connectionFailure(error);
      if (refusal(error)) this.failFast = true;
      this.outcome.emit('outcome');
      this.logger.warn(`${this.where}: ${this.connectionError}`);
    });
    // A blocked broker (low on memory or disk) holds publishes back: sends time out until it unblocks.
    this.connection.on('connection.blocked', (why: string) => {
      this.connectionError = `blocked by the broker: ${why}`;
      this.logger.warn(`${this.where}: ${this.connectionError}`);
    });
    this.connection.on('connection.unblocked', () => {
      this.connectionError = undefined;
      this.logger.log(`${this.where}: unblocked`);
    });
    this.publisher = this.connection.createPublisher({
      confirm: true,
      exchanges: [{ exchange: config.exchange, type: 'topic', durable: true }],
    });
  }

  /**
   * Hands every message to the publisher at once (pipelined) and then walks their confirms in
   * order: the first one that fails or has not come when the time is up ends the confirmed prefix.
   * Publishes left unconfirmed by a timeout may still reach the broker: the engine's retry sends
   * the same ids again, after them. A message over the broker's `max_message_size` is not
   * published, nor anything after it, and the result says it is too large.
   */
  async send(messages: readonly SinkMessage[]): Promise<SendResult> {
    if (this.closing) return { confirmed: 0, error: 'transport is closed' };
    const down = await this.unusable();
    if (down !== undefined) return { confirmed: 0, error: down };
    const bodies = messages.map((message) => Buffer.from(message.body, 'utf8'));
    const max = this.maxMessageSize;
    const over = max === undefined ? -1 : bodies.findIndex((body) => body.length > max);
    const sent = over === -1 ? messages.length : over;
    const tooLarge: Refusal | undefined =
      over === -1
        ? undefined
        : { error: `message of ${bodies[over].length} bytes is larger than the broker's max_message_size (${max} bytes)`, tooLarge: 'max_message_size' };
    const outcomes = messages.slice(0, sent).map((message, i) =>
      this.publisher.send(this.envelope(message), bodies[i]).then(
        () => undefined,
        (error: unknown): Refusal => {
          const max = maxMessageSizeRefused(error);
          if (max === undefined) return { error: this.failure(error) };
          this.maxMessageSize = max;
          return { error: this.failure(error), tooLarge: 'max_message_size' };
        },
      ),
    );
    let confirmed = 0;
    const walk = (async () => {
      for (const outcome of outcomes) {
        const refusal = await outcome;
        if (refusal !== undefined) return refusal;
        confirmed++;
      }
      return undefined;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Refusal>((resolve) => {
      timer = setTimeout(() => resolve({ error: this.timeoutReason() }), this.timeoutMs);
    });
    try {
      const refusal = (await Promise.race([walk, timedOut])) ?? tooLarge;
      return refusal === undefined || confirmed === messages.length ? { confirmed } : { confirmed, ...refusal };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Why a send cannot go out now, when the connection says so: it has never opened (the attempt
   * under way is waited for) or the broker refused the login. Publishes are not queued meanwhile.
   * Once connected, an outage is waited out by each send, up to its timeout, as the library reconnects.
   */
  private async unusable(): Promise<string | undefined> {
    if (this.connection.ready || !this.failFast) return undefined;
    if (this.connectionError === undefined) {
      let timer: NodeJS.Timeout | undefined;
      let wake = () => {};
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(wake, this.timeoutMs);
        this.outcome.once('outcome', wake);
      });
      clearTimeout(timer);
      this.outcome.off('outcome', wake);
      if (this.connection.ready) return undefined;
    }
    return this.connectionError === undefined ? this.timeoutReason() : `cannot connect: ${this.connectionError}`;
  }

  /** Closes the publisher's channel and the connection; a broker that does not answer is cut off. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // Both at once: the connection waits for its channels, and, while it is still connecting,
    // closing it is what ends the publisher's wait for a channel.
    const closed = Promise.allSettled([this.publisher.close(), this.connection.close()]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    try {
      if ((await Promise.race([closed, timedOut])) === 'timeout') this.connection.unsafeDestroy();
    } finally {
      clearTimeout(timer);
    }
  }

  private envelope(message: SinkMessage): Envelope {
    return {
      exchange: this.exchange,
      routingKey: message.event,
      durable: true,
      messageId: message.id,
      contentType: 'application/json',
      headers: {
        [AMQP_HEADERS.event]: message.event,
        [AMQP_HEADERS.table]: message.table,
        [AMQP_HEADERS.op]: message.op,
        [AMQP_HEADERS.id]: message.id,
      },
    };
  }

  /** Why a publish failed, in a few words. */
  private failure(error: unknown): string {
    // The wait for a channel is bounded by the same timeout as the send: say it the same way.
    if (error instanceof AMQPError && error.code === 'TIMEOUT') return this.timeoutReason();
    return reason(error);
  }

  private timeoutReason(): string {
    const down = this.connection.ready ? '' : ` (${this.connectionError ?? 'not connected'})`;
    return `timed out after ${this.timeoutMs} ms${down}`;
  }
}

/** Why a publish was not confirmed; `tooLarge` when the broker refused it for its size. */
type Refusal = { error: string; tooLarge?: string };

/**
 * The limit the broker named when it refused a message over its `max_message_size` (128 MB by
 * default; it closes the channel, 406, and discards what was published on it after that message).
 */
function maxMessageSizeRefused(error: unknown): number | undefined {
  if (!(error instanceof AMQPChannelError) || error.code !== 'PRECONDITION_FAILED') return undefined;
  const limit = /larger than configured max size (\d+)/.exec(error.message)?.[1];
  return limit === undefined ? undefined : Number(limit);
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The broker said no to this connection's credentials or vhost: it will say so again. */
function refusal(error: unknown): boolean {
  return error instanceof AMQPConnectionError && (error.code === 'ACCESS_REFUSED' || error.code === 'NOT_ALLOWED');
}

/** Why the connection failed, in a few words; the library's text names a method it does not know as `undefined: `. */
function connectionFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  const text = reason(error).replace(/^undefined: /, '');
  if (code === 'ACCESS_REFUSED') return `login refused (${text})`;
  if (code === 'NOT_ALLOWED') return `access refused (${text})`;
  return text;
}
