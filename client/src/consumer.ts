import type { ConsumerMessage, Notification, ReceivedMessages, SettledLeases } from './protocol.js';
import type { Rest } from './rest.js';

/** Handles one message; a throw nacks it (it comes again, after the group's backoff). */
export type MessageHandler = (notification: Notification, message: ConsumerMessage) => unknown;

export interface ConsumeOptions {
  /** Handlers running at once (default 10); with the group's `order: 'key'`, one row's changes never overlap. */
  concurrency?: number;
  /** How long a receive waits for a message when none is there (ms, default 20000). */
  waitMs?: number;
  /** Ends the worker like `stop()` (e.g. aborted on SIGTERM). */
  signal?: AbortSignal;
  /** A receive or settle call that failed (the worker goes on after a pause), or a lease lost to expiry. */
  onError?: (error: unknown) => void;
}

/** A running worker (`RowcastClient.consume`). */
export interface Consumer {
  /** Stops receiving, lets the handlers running finish and settles their messages; resolves then. */
  stop(): Promise<void>;
  /** Resolves once stopped. */
  readonly done: Promise<void>;
}

/** Waits after a receive failed, before the next (ms). */
const RETRY_MS = 1000;

/**
 * A worker of a pull consumer group: receives, runs `handler` for each message (up to
 * `concurrency` at once), acknowledges it when the handler returns, nacks it when it throws, and
 * extends its lease while the handler runs past two thirds of it. Stopping waits for the handlers
 * running; a receive cut short by the stop may have leased messages this worker never saw: they
 * come again once their lease expires.
 */
export function consume(rest: Rest, group: string, handler: MessageHandler, options: ConsumeOptions = {}): Consumer {
  const concurrency = options.concurrency ?? 10;
  const path = (verb: string) => `consumers/${encodeURIComponent(group)}/${verb}`;
  const running = new Set<Promise<void>>();
  const stopping = new AbortController();
  let freed: (() => void) | undefined;
  const report = (error: unknown) => options.onError?.(error);

  const settle = async (verb: 'ack' | 'nack' | 'extend', leaseId: string): Promise<boolean> => {
    const { done } = await rest.post<SettledLeases>(path(verb), { leaseIds: [leaseId] });
    return done.length === 1;
  };

  const handle = async (message: ConsumerMessage): Promise<void> => {
    // Extended at two thirds of the lease, again and again, while the handler runs.
    const lease = Math.max(0, new Date(message.leasedUntil).getTime() - Date.now());
    const timer = setInterval(() => {
      settle('extend', message.leaseId).then(
        (extended) => extended || report(new Error(`lease ${message.leaseId} of notification ${message.notification.id} was lost before it could be extended`)),
        report,
      );
    }, Math.max(100, (lease * 2) / 3));
    let failed = false;
    try {
      await handler(message.notification, message);
    } catch (error) {
      failed = true;
      report(error);
    } finally {
      clearInterval(timer);
    }
    try {
      const settled = await settle(failed ? 'nack' : 'ack', message.leaseId);
      if (!settled) report(new Error(`lease ${message.leaseId} of notification ${message.notification.id} expired before it was settled: it is delivered again`));
    } catch (error) {
      report(error);
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      if (running.size >= concurrency) {
        await new Promise<void>((resolve) => (freed = resolve));
        continue;
      }
      let received: ReceivedMessages;
      try {
        received = await rest.post<ReceivedMessages>(path('receive'), { max: concurrency - running.size, waitMs: options.waitMs ?? 20_000 }, stopping.signal);
      } catch (error) {
        if (stopping.signal.aborted) break;
        report(error);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      for (const message of received.messages) {
        const run = handle(message).finally(() => {
          running.delete(run);
          freed?.();
        });
        running.add(run);
      }
    }
    await Promise.all(running);
  };

  const done = loop();
  const stop = () => {
    stopping.abort();
    freed?.();
    return done;
  };
  options.signal?.addEventListener('abort', () => void stop(), { once: true });
  if (options.signal?.aborted) void stop();
  return { stop, done };
}
