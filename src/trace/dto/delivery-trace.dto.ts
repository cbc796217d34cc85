import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { DeliveryAttemptDto } from '../../sinks/dto/sink.dto.js';

export const TRACE_STATUSES = ['delivered', 'acknowledged', 'pending', 'in_flight', 'redelivery_queued', 'dead_letter', 'skipped'] as const;
export type TraceStatus = (typeof TRACE_STATUSES)[number];

/** One attempt to deliver the notification (webhooks record them; the last 1,000 per sink are kept). */
export class TraceAttemptDto extends OmitType(DeliveryAttemptDto, ['notificationId'] as const) {}

/** What one destination did with the notification. */
export class DestinationTraceDto {
  @ApiProperty({ enum: ['webhook', 'rabbitmq', 'nats', 'consumer'] })
  kind: 'webhook' | 'rabbitmq' | 'nats' | 'consumer';
  /** The sink's or consumer group's id. */
  id: string;
  name: string;
  @ApiProperty({
    enum: TRACE_STATUSES,
    description:
      'delivered (a sink is past it), acknowledged (a consumer group), pending (not reached yet, or waiting for a redelivery), ' +
      'in_flight (leased to a worker), redelivery_queued (a sink will send it again), dead_letter, skipped (see reason)',
  })
  status: TraceStatus;
  /** Why it was skipped, why it is pending, or what to know about the status. */
  @ApiPropertyOptional()
  reason?: string;
  /** When the destination confirmed it, if recorded (a webhook's 2xx). */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  confirmedAt: Date | null;
  /** Deliveries so far: a sink's recorded attempts, or a consumer group's delivery count. */
  deliveries: number;
  @ApiProperty({ type: [TraceAttemptDto] })
  attempts: TraceAttemptDto[];
  /** The last error, for a dead letter or a failing or nacked delivery. */
  @ApiPropertyOptional()
  lastError?: string;
}

export class DeliveryTraceDto {
  /** The notification's id. @example "1042" */
  id: string;
  /** @example "invoices.updated" */
  event: string;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
  /** Every sink and consumer group, whether or not its filter takes the notification (WebSocket subscribers are not tracked one by one). */
  @ApiProperty({ type: [DestinationTraceDto] })
  destinations: DestinationTraceDto[];
}
