import { Inject, Injectable, Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import type { Namespace, Socket } from 'socket.io';
import { ApiKey, hasScope } from '../auth/api-key.js';
import { bearerToken } from '../auth/api-key.guard.js';
import { ApiKeysService } from '../auth/api-keys.service.js';
import { DomainError } from '../common/errors/domain-error.js';
import { AppConfig } from '../config/config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { ApiKeysChangedEvent, OnAppEvent } from '../events/event-catalog.js';
import { Ack, refuse, sendAway } from './realtime.errors.js';
import { type ErrorNotice } from '../../client/src/protocol.js';

const WINDOW_MS = 60_000;
/** Where sockets admitted while no key existed are kept track of. */
const OPEN = 'open';

/** Refuses a handshake: the client's `connect_error` carries the message and `data.code`. */
export class HandshakeRefused extends Error {
  constructor(
    readonly data: { code: 'UNAUTHORIZED' | 'FORBIDDEN' | 'TOO_MANY_CONNECTIONS' },
    message: string,
  ) {
    super(message);
  }
}

/**
 * Who may connect to /events and how much they may ask: the API key at the handshake
 * (`auth: {token}`, or an Authorization header), connections per key, messages per minute per
 * key (counted by @nestjs/throttler's storage), the tables a key may read, and revocation of
 * keys whose sockets are open.
 */
@Injectable()
export class SocketAccess {
  private readonly logger = new Logger(SocketAccess.name);
  /** Connected sockets per key id (OPEN: connected while no key existed). */
  private readonly sockets = new Map<string, Set<Socket>>();

  constructor(
    private readonly keys: ApiKeysService,
    @Inject(ThrottlerStorage) private readonly counters: ThrottlerStorage,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Socket.IO middleware: runs for every handshake, before the connection exists. */
  attach(namespace: Namespace): void {
    namespace.use((socket, next) => {
      this.admit(socket).then(
        () => next(),
        (error: unknown) => next(error instanceof Error ? error : new Error(String(error))),
      );
    });
  }

  /** The tables the socket's key may read; undefined: every table. */
  tablesOf(socket: Socket): readonly string[] | undefined {
    return keyOf(socket)?.tables ?? undefined;
  }

  /** Counts one message against the key's (or the socket's, while open) per-minute limit. */
  async limitMessage(socket: Socket): Promise<Ack | undefined> {
    const limit = this.config.limits.wsPerMinute;
    if (limit === 0) return undefined;
    const tracker = keyOf(socket) ? `key:${keyOf(socket)!.id}` : `socket:${socket.id}`;
    const { isBlocked, timeToBlockExpire } = await this.counters.increment(`ws:${tracker}`, WINDOW_MS, limit, WINDOW_MS, 'ws');
    if (!isBlocked) return undefined;
    return refuse('RATE_LIMITED', `at most ${limit} messages a minute per API key; retry in ${timeToBlockExpire} s`);
  }

  /**
   * Sockets of a revoked key, and sockets that connected without a key once the first key exists,
   * are told why and closed; they do not reconnect on their own.
   */
  @OnAppEvent(ApiKeysChangedEvent.eventName)
  disconnectRefused(event: ApiKeysChangedEvent): void {
    const close = (id: string, code: ErrorNotice['code'], message: string) => {
      for (const socket of this.sockets.get(id) ?? []) sendAway(socket, { code, message });
    };
    for (const id of event.revokedKeyIds) close(id, 'KEY_REVOKED', 'the API key of this connection was revoked');
    if (event.becameRequired) close(OPEN, 'UNAUTHORIZED', 'API keys are now required: reconnect with auth: {token}');
  }

  private async admit(socket: Socket): Promise<void> {
    if (!this.keys.required) return this.track(socket, OPEN);
    let key: ApiKey;
    try {
      // A key created a moment ago (the keys CLI has just returned) is looked up before it is refused.
      key = await this.keys.authenticateFresh(handshakeToken(socket));
    } catch (error) {
      if (error instanceof DomainError) throw new HandshakeRefused({ code: 'UNAUTHORIZED' }, error.message);
      throw error;
    }
    if (!hasScope(key, 'events:subscribe')) {
      throw new HandshakeRefused({ code: 'FORBIDDEN' }, `the API key ${key.name} lacks the scope events:subscribe`);
    }
    const open = this.sockets.get(key.id) ?? new Set<Socket>();
    if (open.size >= this.config.websocket.maxConnectionsPerKey) {
      throw new HandshakeRefused(
        { code: 'TOO_MANY_CONNECTIONS' },
        `the API key ${key.name} already has ${open.size} connections to this instance (the most allowed)`,
      );
    }
    socket.data.apiKey = key;
    this.track(socket, key.id);
    this.logger.debug(`${socket.id} connected with key ${key.name}`);
  }

  private track(socket: Socket, id: string): void {
    const open = this.sockets.get(id) ?? new Set<Socket>();
    open.add(socket);
    this.sockets.set(id, open);
    // A socket that never completes its connection still closes its transport.
    const release = () => {
      open.delete(socket);
      if (open.size === 0 && this.sockets.get(id) === open) this.sockets.delete(id);
    };
    socket.once('disconnect', release);
    socket.conn.once('close', release);
  }
}

function keyOf(socket: Socket): ApiKey | undefined {
  return (socket.data as { apiKey?: ApiKey }).apiKey;
}

function handshakeToken(socket: Socket): string | undefined {
  const token: unknown = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
  if (typeof token === 'string') return token;
  return bearerToken(socket.handshake.headers.authorization);
}
