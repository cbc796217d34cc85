import { Injectable } from '@nestjs/common';
import type { ApiKey } from '../auth/api-key.js';
import { TableNotAllowed } from '../auth/auth.errors.js';
import { toNotificationMessage } from '../events/notification-message.js';
import { ListNotificationsQueryDto, NotificationDto, NotificationPageDto, whereOf } from './dto/notification.dto.js';
import { TableCatalog } from '../capture/table-catalog.js';
import { NotificationLog } from '../log/notification-log.js';
import { BadTailQuery, NotificationNotFound } from './notifications.errors.js';

@Injectable()
export class NotificationsService {
  constructor(
    private readonly log: NotificationLog,
    private readonly tables: TableCatalog,
  ) {}

  /** Ascending ids after `after`. A key limited to some tables reads only theirs. */
  async list(query: ListNotificationsQueryDto, key?: ApiKey): Promise<NotificationPageDto> {
    const allowed = key?.tables ?? undefined;
    await this.tables.check(query.table !== undefined ? [query.table] : [], query.event !== undefined ? [query.event] : []);
    if (key && allowed && query.table !== undefined && !allowed.includes(query.table)) throw new TableNotAllowed(key, allowed);
    const filter = {
      event: query.event,
      tables: query.table !== undefined ? [query.table] : allowed,
      entityId: query.entityId,
      actor: query.actor,
      where: whereOf(query.where),
    };
    if (query.tail === 'true' && query.after !== undefined) throw new BadTailQuery();
    const page =
      query.tail === 'true'
        ? await this.log.readLatest(query.limit ?? 100, filter)
        : await this.log.readAfter(BigInt(query.after ?? 0), query.limit ?? 100, filter);
    return { data: page.map(toNotificationMessage), nextCursor: page.length ? page[page.length - 1].id : null };
  }

  /** One notification; one of a table the key may not read is not found. */
  async get(id: string, key?: ApiKey): Promise<NotificationDto> {
    const notification = await this.log.get(id, key?.tables ?? undefined);
    if (!notification) throw new NotificationNotFound(id);
    return toNotificationMessage(notification);
  }
}
