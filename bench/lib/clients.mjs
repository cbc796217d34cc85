// Socket.IO clients in the benchmark's process. Latency is taken on one clock (absolute time,
// the same in every thread of this process), from the writer's commit acknowledgement, timed in
// the writer's thread, to each client's receipt, timed when this thread handles it.
import { performance } from 'node:perf_hooks';
import { io } from 'socket.io-client';

export const now = () => performance.timeOrigin + performance.now();

/** Commit acknowledgement times by key; a receipt seen before its ack waits for it. */
export class Ledger {
  acked = new Map();
  early = new Map();
  latencies = [];
  received = 0;
  /** When the last receipt came (same clock): the end of a run for its delivered rate. */
  lastAt = 0;

  ack(key, at) {
    this.acked.set(key, at);
    const waiting = this.early.get(key);
    if (waiting) {
      // A receipt can precede the ack: the server saw the commit before the writer's thread did.
      for (const received of waiting) this.latencies.push(Math.max(0, received - at));
      this.early.delete(key);
    }
  }

  receipt(key) {
    const at = now();
    this.received++;
    this.lastAt = at;
    const acked = this.acked.get(key);
    if (acked !== undefined) this.latencies.push(at - acked);
    else if (key !== undefined) {
      const waiting = this.early.get(key);
      if (waiting) waiting.push(at);
      else this.early.set(key, [at]);
    }
  }
}

/** `count` clients on `url` (namespace /events), each subscribed with `request`; `onMessage(n)` each. */
export async function connectClients(url, count, { request = {}, token, onMessage } = {}) {
  const sockets = [];
  /** Why the server closed connections (error_notice codes, e.g. SLOW_CONSUMER), and disconnect reasons. */
  const notices = {};
  const disconnects = {};
  // Connect in waves so that the handshakes do not time out on a busy machine.
  for (let start = 0; start < count; start += 100) {
    const wave = await Promise.all(
      Array.from({ length: Math.min(100, count - start) }, async () => {
        const socket = io(`${url}/events`, {
          transports: ['websocket'],
          forceNew: true,
          reconnection: false,
          auth: token ? { token } : {},
        });
        await new Promise((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
        socket.on('notification', onMessage);
        socket.on('error_notice', (notice) => (notices[notice.code] = (notices[notice.code] ?? 0) + 1));
        socket.on('disconnect', (reason) => (disconnects[reason] = (disconnects[reason] ?? 0) + 1));
        if (request) {
          const ack = await socket.timeout(30_000).emitWithAck('subscribe', request);
          if (ack && ack.ok === false) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
        }
        return socket;
      }),
    );
    sockets.push(...wave);
  }
  return { sockets, notices, disconnects, close: () => sockets.forEach((socket) => socket.close()) };
}
