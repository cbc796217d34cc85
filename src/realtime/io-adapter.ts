import { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { ServerOptions } from 'socket.io';
import { AppConfig } from '../config/config.js';

/**
 * Socket.IO with the configured heartbeat (a peer that stops answering pings is dropped) and the
 * configured CORS origins (none: same origin only, as for HTTP).
 */
export class RealtimeIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions) {
    return super.createIOServer(port, {
      ...options,
      pingInterval: this.config.websocket.pingIntervalMs,
      pingTimeout: this.config.websocket.pingTimeoutMs,
      cors: this.config.corsOrigins.length ? { origin: this.config.corsOrigins } : undefined,
    } as ServerOptions);
  }
}
