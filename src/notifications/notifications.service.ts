import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ApiKey } from '../auth/api-key.js';
import { TableNotAllowed } from '../auth/auth.errors.js';
import { ListNotificationsQueryDto, NotificationDto, NotificationPageDto, NotificationPayloadDto } from './dto/notification.dto.js';
import { fromRow, NOTIFICATION_COLUMNS, NotificationRow, toNotificationMessage } from '../events/notification-row.js';
import { NotificationNotFound } from './notifications.errors.js';

function toDto(row: NotificationRow): NotificationDto {
  const message = toNotificationMessage(fromRow(row));
  // The stored payload is what toNotificationPayload wrote: the API's payload shape.
  return { ...message, payload: message.payload as unknown as NotificationPayloadDto };
}

@Injectable()
export class NotificationsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Ascending ids after `after`; each filter is an indexed condition (see the migration). A key
   * limited to some tables reads only theirs.
   */
  async list(query: ListNotificationsQueryDto, key?: ApiKey): Promise<NotificationPageDto> {
    const allowed = key?.tables;
    if (allowed && query.table !== undefined && !allowed.includes(query.table)) throw new TableNotAllowed(key, allowed);
    const conditions: string[] = [];
    const values: unknown[] = [];
    const add = (condition: string, value: unknown) => {
      values.push(value);
      conditions.push(condition.replace('?', `$${values.length}`));
    };
    if (query.event?.endsWith('.*')) add('event LIKE ?', `${escapeLike(query.event.slice(0, -1))}%`);
    else if (query.event) add('event = ?', query.event);
    if (query.table) add('table_name = ?', query.table);
    else if (allowed) add('table_name = ANY(?)', allowed);
    if (query.entityId !== undefined) add('entity_id = ?', query.entityId);
    if (query.after !== undefined) add('n.id > ?', query.after);
    values.push(query.limit ?? 100);
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows: NotificationRow[] = await this.dataSource.query(
      `SELECT ${NOTIFICATION_COLUMNS} FROM notifications n ${where} ORDER BY n.id LIMIT $${values.length}`,
      values,
    );
    return { data: rows.map(toDto), nextCursor: rows.length ? rows[rows.length - 1].id : null };
  }

  /** One notification; one of a table the key may not read is not found. */
  async get(id: string, key?: ApiKey): Promise<NotificationDto> {
    const rows: NotificationRow[] = await this.dataSource.query(
      `SELECT ${NOTIFICATION_COLUMNS} FROM notifications n WHERE n.id = $1 AND ($2::text[] IS NULL OR table_name = ANY($2))`,
      [id, key?.tables ?? null],
    );
    if (!rows.length) throw new NotificationNotFound(id);
    return toDto(rows[0]);
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}
