import { StoredNotification } from '../events/event-catalog.js';
import { NotificationFilter } from '../events/notification-filter.js';
import { SubscribeDto } from './dto/subscribe.dto.js';

/** One client subscription: which notifications it wants. Every filter given must hold. */
export class Subscription {
  private readonly filter: NotificationFilter;
  /** One net change per row per transaction (`coalesce: 'transaction'`), matched as such. */
  readonly coalesced: boolean;

  constructor(
    readonly id: string,
    request: SubscribeDto,
  ) {
    this.filter = new NotificationFilter(request);
    this.coalesced = request.coalesce === 'transaction';
  }

  matches(notification: StoredNotification): boolean {
    return this.filter.matches(notification);
  }
}
