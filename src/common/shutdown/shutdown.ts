import { Global, Injectable, INestApplication, Module } from '@nestjs/common';
import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/** Set once SIGTERM/SIGINT arrives: from then on the service stops taking work. */
@Injectable()
export class ShutdownState {
  closing = false;
}

@Global()
@Module({ providers: [ShutdownState], exports: [ShutdownState] })
export class ShutdownModule {}

/**
 * Middleware: while closing, a request that arrives on a kept-alive connection gets 503 with
 * `Connection: close`, so clients and load balancers go elsewhere and the connection ends.
 */
export function refuseWhileClosing(state: ShutdownState) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (!state.closing) return next();
    res.setHeader('Connection', 'close');
    res.setHeader('Retry-After', '1');
    res.status(503).json({ statusCode: 503, error: 'Service Unavailable', message: 'shutting down; retry on another instance' });
  };
}

/**
 * The first step of a shutdown: no new connections, idle kept-alive ones closed now, busy ones
 * after their current request (refuseWhileClosing), and any left after `graceMs` cut. Requests in
 * flight finish; Nest's close (which waits for the server) can then go on.
 */
export function stopAccepting(app: INestApplication, graceMs: number): void {
  app.get(ShutdownState).closing = true;
  const server = app.getHttpServer() as Server;
  server.close();
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), graceMs).unref();
}
