import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { poolSql, Sql } from '../database/sql.js';
import type { StoredNotification } from '../events/event-catalog.js';
import { NotificationFilter, NotificationFilterDto } from '../events/notification-filter.js';
import { NotificationLog } from '../log/notification-log.js';
import { NotificationNotFound } from '../notifications/notifications.errors.js';
import type { DestinationTraceDto, DeliveryTraceDto, TraceAttemptDto } from './dto/delivery-trace.dto.js';

interface SinkRow {
  id: string;
  kind: 'webhook' | 'rabbitmq' | 'nats';
  name: string;
  filter: NotificationFilterDto;
  state: string;
  position: string;
  last_error: string | null;
  created_at: Date;
  dead_attempts: number | null;
  dead_error: string | null;
  queued: boolean;
  attempts: { at: string; status_code: number | null; latency_ms: number; delivered: boolean; detail: string }[];
}

interface GroupRow {
  id: string;
  name: string;
  filter: NotificationFilterDto;
  paused: boolean;
  scanned_through: string;
  created_at: Date;
  state: 'pending' | 'leased' | 'dead' | null;
  deliveries: number | null;
  available_at: Date | null;
  leased_until: Date | null;
  last_error: string | null;
}

/**
 * What each destination did with one notification (issue 21): for each sink, whether its filter
 * takes it, whether its position passed it, its recorded attempts, a dead letter or a queued
 * redelivery; for each consumer group, whether it is acknowledged, leased, waiting or dead. Read
 * from the destinations' own tables, so it says what they say: a webhook's attempts are kept for
 * its last 1,000 deliveries, a broker sink records none, an acknowledged message leaves no row.
 */
@Injectable()
export class DeliveryTrace {
  private readonly sql: Sql;

  constructor(
    @InjectDataSource() dataSource: DataSource,
    private readonly log: NotificationLog,
  ) {
    this.sql = poolSql(dataSource);
  }

  async trace(id: string): Promise<DeliveryTraceDto> {
    const notification = await this.log.get(id);
    if (!notification) throw new NotificationNotFound(id);
    const [sinks, groups] = await Promise.all([
      this.sql<SinkRow>(
        `SELECT s.id::text, s.kind, s.name, s.filter, s.state, s.position::text, s.last_error, s.created_at,
                d.attempts AS dead_attempts, d.last_error AS dead_error,
                EXISTS (SELECT 1 FROM sink_redeliveries r WHERE r.sink_id = s.id AND r.notification_id = $1) AS queued,
                coalesce((SELECT jsonb_agg(jsonb_build_object('at', a.at, 'status_code', a.status_code, 'latency_ms', a.latency_ms,
                                                              'delivered', a.delivered, 'detail', a.detail) ORDER BY a.id)
                          FROM sink_deliveries a WHERE a.sink_id = s.id AND a.notification_id = $1), '[]') AS attempts
         FROM sinks s LEFT JOIN sink_dead_letters d ON d.sink_id = s.id AND d.notification_id = $1
         ORDER BY s.name`,
        [id],
      ),
      this.sql<GroupRow>(
        `SELECT g.id::text, g.name, g.filter, g.paused, g.scanned_through::text, g.created_at,
                m.state, m.deliveries, m.available_at, m.leased_until, m.last_error
         FROM consumer_groups g
         LEFT JOIN LATERAL (
           SELECT m.state, m.deliveries, m.available_at, m.leased_until, m.last_error FROM consumer_messages m WHERE m.group_id = g.id AND m.notification_id = $1
           UNION ALL
           SELECT 'leased', 1, NULL, l.leased_until, NULL FROM consumer_leases l WHERE l.group_id = g.id AND $1 = ANY (l.notification_ids) AND NOT $1 = ANY (l.settled)
           LIMIT 1) m ON true
         ORDER BY g.name`,
        [id],
      ),
    ]);
    return {
      id: notification.id,
      event: notification.event,
      createdAt: notification.createdAt,
      destinations: [...sinks.map((sink) => sinkTrace(notification, sink)), ...groups.map((group) => groupTrace(notification, group))],
    };
  }
}

const skipped = (notification: StoredNotification, filter: NotificationFilterDto, destination?: string): string | undefined => {
  if (new NotificationFilter(filter, destination).matches(notification)) return undefined;
  const { destinations, backfill } = notification.payload;
  if (destinations) return `a backfill aimed at other sinks (${destinations.join(', ')})`;
  if (backfill !== undefined && !filter.events?.includes(notification.event)) return `a backfill's ${notification.event}: taken only by a filter that names it`;
  return 'its filter leaves it out';
};

/** Made after the notification: it got it only if it started from before it. */
const startedAfter = (createdAt: Date, notification: StoredNotification): string | undefined =>
  createdAt > notification.createdAt ? 'made after this notification: it got it only if it started from before it' : undefined;

function sinkTrace(notification: StoredNotification, sink: SinkRow): DestinationTraceDto {
  const attempts: TraceAttemptDto[] = sink.attempts.map((a) => ({
    at: new Date(a.at),
    ...(a.status_code !== null && { statusCode: a.status_code }),
    latencyMs: a.latency_ms,
    delivered: a.delivered,
    detail: a.detail,
  }));
  const base = { kind: sink.kind, id: sink.id, name: sink.name, deliveries: attempts.length, attempts };
  const confirmedAt = attempts.filter((a) => a.delivered).at(-1)?.at ?? null;
  const reason = skipped(notification, sink.filter, sink.id);
  if (reason) return { ...base, status: 'skipped', reason, confirmedAt: null };
  if (sink.dead_attempts !== null) {
    return { ...base, status: 'dead_letter', confirmedAt: null, deliveries: Math.max(sink.dead_attempts, attempts.length), lastError: sink.dead_error ?? undefined };
  }
  if (sink.queued) return { ...base, status: 'redelivery_queued', reason: 'to be delivered again, ahead of the rest', confirmedAt };
  if (BigInt(sink.position) >= BigInt(notification.id)) {
    const note = confirmedAt ? undefined : startedAfter(sink.created_at, notification);
    return { ...base, status: 'delivered', confirmedAt, ...(note && { reason: note }) };
  }
  const why = sink.state === 'active' ? `not reached yet: the sink is at ${sink.position}` : `not reached yet: the sink is ${sink.state} at ${sink.position}`;
  return { ...base, status: 'pending', reason: why, confirmedAt: null, ...(sink.last_error && sink.state !== 'active' && { lastError: sink.last_error }) };
}

function groupTrace(notification: StoredNotification, group: GroupRow): DestinationTraceDto {
  const base = { kind: 'consumer' as const, id: group.id, name: group.name, deliveries: group.deliveries ?? 0, attempts: [], confirmedAt: null };
  const reason = skipped(notification, group.filter);
  if (reason) return { ...base, status: 'skipped', reason };
  const lastError = group.last_error ?? undefined;
  switch (group.state) {
    case 'dead':
      return { ...base, status: 'dead_letter', lastError };
    case 'leased':
      return { ...base, status: 'in_flight', reason: `leased until ${group.leased_until!.toISOString()}`, lastError };
    case 'pending':
      return {
        ...base,
        status: 'pending',
        reason: group.deliveries ? `to be delivered again from ${group.available_at!.toISOString()}` : 'waiting for a receive',
        lastError,
      };
  }
  if (BigInt(group.scanned_through) >= BigInt(notification.id)) {
    const note = startedAfter(group.created_at, notification);
    return { ...base, status: 'acknowledged', ...(note && { reason: note }) };
  }
  return { ...base, status: 'pending', reason: `not reached yet: the group is at ${group.scanned_through}${group.paused ? ', paused' : ''}` };
}
