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
  /**
   * How long an ack or nack waits for others to share its request (ms, default 5): the handlers
   * that finish meanwhile settle in one request (up to 100 leases) instead of one each. 0: at once.
   */
  settleBatchMs?: number;
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
/** Leases settled in one request at most (the server takes up to 1,000). */
const SETTLE_BATCH = 100;

type Verb = 'ack' | 'nack' | 'extend';

/**
 * Settles leases of one group, batching those of one verb that arrive within `delayMs` (or until
 * SETTLE_BATCH of them wait) into one request; each caller learns whether its lease was current.
 */
function settler(rest: Rest, path: (verb: string) => string, delayMs: number) {
  const batches = new Map<Verb, { waiting: Map<string, { resolve: (done: boolean) => void; reject: (error: unknown) => void }>; timer?: ReturnType<typeof setTimeout> }>();
  const flush = (verb: Verb) => {
    const batch = batches.get(verb);
    if (!batch) return;
    batches.delete(verb);
    if (batch.timer) clearTimeout(batch.timer);
    const leaseIds = [...batch.waiting.keys()];
    rest.post<SettledLeases>(path(verb), { leaseIds }).then(
      ({ done }) => {
        const settled = new Set(done);
        for (const [id, { resolve }] of batch.waiting) resolve(settled.has(id));
      },
      (error: unknown) => {
        for (const { reject } of batch.waiting.values()) reject(error);
      },
    );
  };
  type Waiting = { resolve: (done: boolean) => void; reject: (error: unknown) => void };
  const add = (verb: Verb, leaseId: string, waiting: Waiting) => {
    let batch = batches.get(verb);
    if (!batch) batches.set(verb, (batch = { waiting: new Map() }));
    batch.waiting.set(leaseId, waiting);
    if (batch.waiting.size >= SETTLE_BATCH || delayMs <= 0) flush(verb);
    else batch.timer ??= setTimeout(() => flush(verb), delayMs);
  };
  return {
    settle: (verb: Verb, leaseId: string): Promise<boolean> => new Promise((resolve, reject) => add(verb, leaseId, { resolve, reject })),
    /**
     * The acks waiting to be sent, taken for a receive to carry (`ack` in its body: settled before
     * it leases, so a row's next change can come in the same answer). `done` tells their callers
     * what the receive answered; `resend` sends them on their own (the receive failed: acks are idempotent).
     */
    takeAcks: () => {
      const batch = batches.get('ack');
      if (!batch) return undefined;
      batches.delete('ack');
      if (batch.timer) clearTimeout(batch.timer);
      return {
        leaseIds: [...batch.waiting.keys()],
        done: (done: readonly string[]) => {
          const settled = new Set(done);
          for (const [id, { resolve }] of batch.waiting) resolve(settled.has(id));
        },
        resend: () => {
          for (const [id, waiting] of batch.waiting) add('ack', id, waiting);
          flush('ack');
        },
      };
    },
  };
}

/**
 * A worker of a pull consumer group: receives, runs `handler` for each message (up to
 * `concurrency` at once), acknowledges it when the handler returns, nacks it when it throws, and
 * extends its lease while the handler runs past two thirds of it. Acks and nacks of handlers that
 * finish within a few ms of each other go in one request (settleBatchMs). Stopping waits for the handlers
 * running (and their settles); a receive cut short by the stop may have leased messages this worker never saw: they
 * come again once their lease expires.
 */
export function consume(rest: Rest, group: string, handler: MessageHandler, options: ConsumeOptions = {}): Consumer {
  const concurrency = options.concurrency ?? 10;
  const path = (verb: string) => `consumers/${encodeURIComponent(group)}/${verb}`;
  const running = new Set<Promise<void>>();
  const unsettled = new Set<Promise<unknown>>();
  const stopping = new AbortController();
  let freed: (() => void) | undefined;
  const report = (error: unknown) => options.onError?.(error);

  // Acks and nacks of handlers that finish close together share a request; an extension goes at once.
  const batched = settler(rest, path, options.settleBatchMs ?? 5);
  const settle = (verb: Verb, leaseId: string): Promise<boolean> => (verb === 'extend' ? settleNow(rest, path(verb), leaseId) : batched.settle(verb, leaseId));

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
    // The handler's slot is free now: the settle goes on beside the next receive (a row's next
    // change is not leased before this lease is settled, whoever receives it).
    const settling = settle(failed ? 'nack' : 'ack', message.leaseId).then(
      (settled) => settled || report(new Error(`lease ${message.leaseId} of notification ${message.notification.id} expired before it was settled: it is delivered again`)),
      report,
    );
    unsettled.add(settling);
    void settling.finally(() => unsettled.delete(settling));
  };

  const loop = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      if (running.size >= concurrency) {
        await new Promise<void>((resolve) => (freed = resolve));
        continue;
      }
      let received: ReceivedMessages;
      // The acks of handlers that just finished ride on this receive: one request, not two. Such a
      // receive answers at once and is not cut short by a stop (its acks' outcome must come back);
      // an empty answer leads to a long poll without them.
      const acks = batched.takeAcks();
      try {
        received = await rest.post<ReceivedMessages>(
          path('receive'),
          acks ? { max: concurrency - running.size, waitMs: 0, ack: acks.leaseIds } : { max: concurrency - running.size, waitMs: options.waitMs ?? 20_000 },
          acks ? undefined : stopping.signal,
        );
        acks?.done(received.acked?.done ?? []);
      } catch (error) {
        acks?.resend();
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
    await Promise.all(unsettled);
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

async function settleNow(rest: Rest, path: string, leaseId: string): Promise<boolean> {
  const { done } = await rest.post<SettledLeases>(path, { leaseIds: [leaseId] });
  return done.length === 1;
}
