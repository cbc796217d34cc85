import { Test } from '@nestjs/testing';
import net from 'node:net';
import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/wait.js';
import { loadConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { LiveTail } from './live-tail.js';
import { LogDrainer } from './log-drainer.js';
import { NotificationLog } from './notification-log.js';

/** A port on which nothing listens: every connection attempt is refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('LogDrainer', () => {
  it('backs off between reconnects when the database refuses connections', async () => {
    const config = loadConfig({ DATABASE_URL: `postgres://nobody@127.0.0.1:${await closedPort()}/none` });
    const moduleRef = await Test.createTestingModule({
      providers: [
        LogDrainer,
        { provide: APP_CONFIG, useValue: config },
        // Never reached: no connection ever opens.
        { provide: NotificationLog, useValue: {} },
        { provide: LiveTail, useValue: {} },
        { provide: DataSource, useValue: {} },
      ],
    }).compile();
    const sut = moduleRef.get(LogDrainer);
    const started = Date.now();
    await sut.onApplicationBootstrap();
    await waitFor(() => sut.getStatus().reconnects >= 4, { what: '4 failed connection attempts' });
    // Backoff waits at least 50, 100 and 200 ms after the first three failures.
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(sut.getStatus()).toMatchObject({ connected: false, draining: false });
    await sut.beforeApplicationShutdown();
  });
});
