import { createRequire } from 'node:module';

interface WebSocketTransport {
  send(packets: unknown[]): void;
  socket?: { _socket?: { cork(): void; uncork(): void } };
}

let patched = false;

/**
 * engine.io sends each packet of a flush as its own WebSocket frame, and each frame is its own
 * write to the TCP socket: a system call per notification per client. Where system calls are
 * dear (this project's 2-core VM), that, more than encoding, bounds how many notifications a
 * second reach clients. Corking the TCP socket for the length of one flush sends the flush's
 * frames with one writev; the bytes on the wire are the same.
 *
 * Patches engine.io's WebSocket transport once, and only if it has the shape this was written for
 * (engine.io 6: `send(packets)`, the `ws` socket's `_socket`); otherwise it leaves it alone and
 * says so (returns false).
 */
export function coalesceWebSocketWrites(): boolean {
  if (patched) return true;
  try {
    const require = createRequire(createRequire(import.meta.url).resolve('socket.io'));
    // engine.io's own public export of its transports; socket.io's copy, the one it runs.
    const WebSocket = (require('engine.io') as { transports: { websocket: { prototype: WebSocketTransport } } }).transports.websocket;
    const send = WebSocket.prototype.send;
    if (typeof send !== 'function') return false;
    WebSocket.prototype.send = function (this: WebSocketTransport, packets: unknown[]) {
      const tcp = this.socket?._socket;
      if (packets.length < 2 || !tcp || typeof tcp.cork !== 'function') return send.call(this, packets);
      tcp.cork();
      try {
        send.call(this, packets);
      } finally {
        tcp.uncork();
      }
    };
    patched = true;
    return true;
  } catch {
    return false;
  }
}
