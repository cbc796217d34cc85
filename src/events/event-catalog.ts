import type { EventEmitter2 } from '@nestjs/event-emitter';
import { OnEvent } from '@nestjs/event-emitter';
import type { Notification } from '../../client/src/protocol.js';

/** A notification id as the API takes it (the wire contract's, shared with the client library). */
export { NOTIFICATION_ID } from '../../client/src/protocol.js';

/**
 * A notification as the log holds it: the wire shape (client/src/protocol.ts), with its time still a
 * Date (sinks measure their lag from it) and its table's qualified name (reads and keys filter on it).
 */
export interface StoredNotification extends Omit<Notification, 'createdAt'> {
  createdAt: Date;
  tableName: string;
}

/**
 * Emitted on every instance when its reload of the API keys finds keys revoked (or deleted), or
 * the first key created (from then on every caller needs one).
 */
export class ApiKeysChangedEvent {
  static readonly eventName = 'api-keys.changed';

  constructor(
    readonly revokedKeyIds: readonly string[],
    readonly becameRequired: boolean,
  ) {}
}

/**
 * The in-process events, by name: only news a handler may miss without harm (a handler that throws
 * is not retried). What must not be lost is a call (the drainer → LiveTail.handOver), and what
 * follows the log is a LiveTail listener, never one of these.
 */
export interface AppEvents {
  [ApiKeysChangedEvent.eventName]: ApiKeysChangedEvent;
}

/** Emits an event of the catalog, its payload checked against its name. */
export function emitEvent<K extends keyof AppEvents>(emitter: EventEmitter2, name: K, event: AppEvents[K]): void {
  emitter.emit(name, event);
}

/** @OnEvent for an event of the catalog: the handler must take that event's payload. */
export function OnAppEvent<K extends keyof AppEvents>(name: K) {
  return <T extends (event: AppEvents[K]) => unknown>(target: object, key: string | symbol, descriptor: TypedPropertyDescriptor<T>): void => {
    OnEvent(name)(target, key, descriptor);
  };
}
