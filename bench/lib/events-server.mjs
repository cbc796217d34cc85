// The /events namespace as the benchmark's own servers (the relay, the emitter) serve it: rowcast's
// default heartbeat, read from its configuration (so a client that falls behind is dropped by the
// same rule as rowcast's), and every subscribe acknowledged.
import { Server } from 'socket.io';
import { loadConfig } from '../../dist/src/config/config.js';

export function eventsNamespace(httpServer) {
  const { pingIntervalMs, pingTimeoutMs } = loadConfig({}).websocket;
  const events = new Server(httpServer, { pingInterval: pingIntervalMs, pingTimeout: pingTimeoutMs }).of('/events');
  events.on('connection', (socket) => socket.on('subscribe', (_request, ack) => ack?.({ ok: true })));
  return events;
}
