import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BackgroundReading } from '../database/background-reading.js';

/** A ping every second; one not answered within 5 s (the pool exhausted, the server gone) counts as down. */
const PING_EVERY_MS = 1000;
const PING_TIMEOUT_MS = 5000;

/**
 * Whether the database answers, as /health reports it: pinged in the background, so a probe never
 * waits on the database and the database is "down" only when it stopped answering, never because
 * some other query was slow.
 */
@Injectable()
export class DatabaseProbe implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly ping: BackgroundReading<boolean>;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.ping = new BackgroundReading(async () => (await dataSource.query('SELECT 1'), true), {
      everyMs: PING_EVERY_MS,
      timeoutMs: PING_TIMEOUT_MS,
    });
  }

  onApplicationBootstrap(): Promise<void> {
    return this.ping.start();
  }

  onApplicationShutdown(): Promise<void> {
    return this.ping.stop();
  }

  get up(): boolean {
    return this.ping.ok;
  }
}
