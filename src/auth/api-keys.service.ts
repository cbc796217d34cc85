import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiKeysChangedEvent, emitEvent } from '../events/event-catalog.js';
import { ApiKey, secretMatches, tokenKeyId } from './api-key.js';
import { poolSql } from '../database/sql.js';
import { ApiKeyStore } from './api-key.store.js';
import { InvalidApiKey, MissingApiKey, RevokedApiKey } from './auth.errors.js';

/** Every instance reloads the keys this often, so a revocation holds everywhere within a second. */
export const KEYS_REFRESH_MS = 500;
/**
 * At most this many reloads a second for tokens naming a key id this instance has not loaded: a
 * key is usable the moment `keys create` returns, while a flood of made-up ids costs the database
 * no more than this (and each refusal counts against the caller's address, see ApiKeyGuard).
 */
export const UNKNOWN_KEY_RELOADS_PER_SECOND = 10;

/**
 * The API keys, held in memory and reloaded from the table twice a second (the table is small;
 * one query per instance per refresh), and at once, within a bound, for a key not loaded yet. Once any key exists, revoked ones included, every caller
 * needs one; until then the service is open and says so at start.
 */
@Injectable()
export class ApiKeysService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ApiKeysService.name);
  private byId = new Map<string, ApiKey>();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private reloading = false;
  private queue: Promise<void> = Promise.resolve();
  private unknownKeyReloads = { second: 0, count: 0 };

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly events: EventEmitter2,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.refresh();
    if (!this.required) {
      this.logger.warn(
        'no API key exists: every route and the WebSocket are open to anyone who can reach this port; ' +
          'create one with `npm run keys -- create <name> --scopes ...`',
      );
    }
    this.timer = setInterval(() => void this.refreshQuietly(), KEYS_REFRESH_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** True once any key has been created: from then on every caller must present one. */
  get required(): boolean {
    return this.byId.size > 0;
  }

  /** The active key a bearer token belongs to; throws a 401-kind error otherwise. */
  authenticate(token: string | undefined): ApiKey {
    if (!token) throw new MissingApiKey();
    const id = tokenKeyId(token);
    const key = id === undefined ? undefined : this.byId.get(id);
    if (!key || !secretMatches(token, key.secretHash)) throw new InvalidApiKey();
    if (key.revokedAt) throw new RevokedApiKey(key);
    return key;
  }

  /**
   * As authenticate, but a well-formed token whose key id is not loaded yet (created since the last
   * reload, maybe by another process a moment ago) reloads the keys once before it is refused.
   */
  async authenticateFresh(token: string | undefined): Promise<ApiKey> {
    try {
      return this.authenticate(token);
    } catch (error) {
      const id = token === undefined ? undefined : tokenKeyId(token);
      if (!(error instanceof InvalidApiKey) || id === undefined || this.byId.has(id) || !this.mayReloadForUnknownKey()) throw error;
      // A reload queued now starts after this request arrived, so after the key was committed.
      await this.refresh().catch(() => undefined);
      return this.authenticate(token);
    }
  }

  private mayReloadForUnknownKey(): boolean {
    const second = Math.floor(Date.now() / 1000);
    if (this.unknownKeyReloads.second !== second) this.unknownKeyReloads = { second, count: 0 };
    return this.unknownKeyReloads.count++ < UNKNOWN_KEY_RELOADS_PER_SECOND;
  }

  /** Reloads the keys now; reloads run one after another, never overlapping. */
  refresh(): Promise<void> {
    const run = this.queue.then(() => this.load());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<void> {
    const keys = await ApiKeyStore.all(poolSql(this.dataSource));
    const next = new Map(keys.map((key) => [key.id, key]));
    const revoked = [...this.byId.values()].filter((key) => !key.revokedAt && next.get(key.id)?.revokedAt !== null);
    const becameRequired = !this.required && next.size > 0;
    this.byId = next;
    if (revoked.length || becameRequired) {
      emitEvent(this.events, ApiKeysChangedEvent.eventName, new ApiKeysChangedEvent(revoked.map((key) => key.id), becameRequired));
    }
  }

  private async refreshQuietly(): Promise<void> {
    // A slow reload is not joined by more: they would pile up on a busy pool.
    if (this.reloading) return;
    this.reloading = true;
    try {
      await this.refresh();
      if (this.failing) this.logger.log('API keys reloaded again');
      this.failing = false;
    } catch (error) {
      // Keeps the keys it has; says so once per outage, not twice a second.
      if (!this.failing) this.logger.warn(`cannot reload API keys (${error instanceof Error ? error.message : String(error)})`);
      this.failing = true;
    } finally {
      this.reloading = false;
    }
  }
}
