import { StoredNotification } from '../events/event-catalog.js';
import { SubscribeDto } from './dto/subscribe.dto.js';

/** One client subscription: which notifications it wants. Every filter given must hold. */
export class Subscription {
  private readonly exact: Set<string>;
  private readonly prefixes: string[];
  private readonly tables: Set<string> | undefined;
  private readonly where: [string, unknown][];

  constructor(
    readonly id: string,
    request: SubscribeDto,
  ) {
    const events = request.events ?? [];
    this.exact = new Set(events.filter((event) => !event.endsWith('.*')));
    this.prefixes = events.filter((event) => event.endsWith('.*')).map((event) => event.slice(0, -1));
    this.tables = request.tables ? new Set(request.tables) : undefined;
    this.where = Object.entries(request.where ?? {});
  }

  matches(notification: StoredNotification): boolean {
    if (this.exact.size || this.prefixes.length) {
      const { event } = notification;
      if (!this.exact.has(event) && !this.prefixes.some((prefix) => event.startsWith(prefix))) return false;
    }
    if (this.tables && !this.tables.has(notification.tableName)) return false;
    if (this.where.length) {
      // Deletions have no new row; their old one is what a client filters on.
      const row = notification.payload.new ?? notification.payload.old;
      if (!row || this.where.some(([column, value]) => row[column] !== value)) return false;
    }
    return true;
  }
}
