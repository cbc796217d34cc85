import { INestApplicationContext, Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { IncomingMessage } from 'node:http';
import type { Server, ServerOptions } from 'socket.io';
import { AppConfig } from '../config/config.js';
import { coalesceWebSocketWrites } from './coalesced-writes.js';

/**
 * Socket.IO with the configured heartbeat (a peer that stops answering pings is dropped) and the
 * configured origins. Socket.IO's `cors` covers only long-polling; browsers open WebSockets to any
 * origin, so the handshake itself checks the Origin header too (no header: not a browser, allowed).
 * Only `/events` is served: the default namespace would hold connections past every check.
 */
export class RealtimeIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    if (!coalesceWebSocketWrites()) new Logger(RealtimeIoAdapter.name).warn('engine.io changed shape: WebSocket writes are not coalesced');
    const origins = this.config.corsOrigins;
    const server: Server = super.createIOServer(port, {
      ...options,
      pingInterval: this.config.websocket.pingIntervalMs,
      pingTimeout: this.config.websocket.pingTimeoutMs,
      cors: origins.length ? { origin: origins } : undefined,
      allowRequest: (request: IncomingMessage, answer: (error: string | null | undefined, ok: boolean) => void) =>
        answer(null, originAllowed(request, origins)),
    } as ServerOptions);
    server.of('/').use((_socket, next) => next(new Error('connect to the /events namespace')));
    return server;
  }
}

function originAllowed(request: IncomingMessage, allowed: string[] | '*'): boolean {
  const origin = request.headers.origin;
  if (!origin || allowed === '*' || allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
