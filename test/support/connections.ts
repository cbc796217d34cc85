import type { Socket } from 'node:net';
import type { TestApp } from './app.js';

/** The app's TCP connections, to cut them as a network failure would (neither side says goodbye). */
export function trackConnections(t: TestApp): { cut(): number } {
  const open = new Set<Socket>();
  t.app.getHttpServer().on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return {
    cut: () => {
      const count = open.size;
      for (const socket of open) socket.destroy();
      return count;
    },
  };
}
