import { ApiProperty } from '@nestjs/swagger';
import { COALESCE_MODES, type CoalesceMode } from '../../../client/src/protocol.js';
import { EXHAUSTED_ACTIONS, type ExhaustedAction, SINK_STATES, type SinkKind, type SinkState } from '../sink.js';

/**
 * What the API shows of every sink, whatever its kind. Each kind's response (its driver's `dto.sink`)
 * adds its `kind` and its `settings`; see `SinkDto`.
 */
export abstract class SinkFieldsDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  abstract kind: SinkKind;
  name: string;
  events: string[] | null;
  tables: string[] | null;
  where: Record<string, string | number | boolean | null> | null;
  @ApiProperty({ enum: SINK_STATES })
  state: SinkState;
  /** After the last retry of a notification: dead-letter it, or pause. Null for brokers: their retries never end. */
  @ApiProperty({ enum: EXHAUSTED_ACTIONS, nullable: true })
  onExhausted: ExhaustedAction | null;
  /** `transaction`: one net change per row per transaction; null: every change. */
  @ApiProperty({ enum: COALESCE_MODES, nullable: true })
  coalesce: CoalesceMode | null;
  /** The last notification id delivered or passed over. @example "1042" */
  position: string;
  /**
   * The last notification delivered (confirmed by the receiver; not one passed over or
   * dead-lettered), a redelivery included. Null before the first. @example "1040"
   */
  @ApiProperty({ type: String, nullable: true })
  lastDeliveredId: string | null;
  /** When `lastDeliveredId` was delivered (written with the position, within a fraction of a second of the receiver's confirmation). */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastDeliveredAt: Date | null;
  /**
   * The most recent failure, null if none yet. It is kept after delivery recovers: it is current
   * while `recoveredAt` is null, history once `recoveredAt` is set.
   */
  lastError: string | null;
  /** When `lastError` happened. */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastErrorAt: Date | null;
  /** When delivery succeeded again after `lastError`; null while that error is current (or there is none). */
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  recoveredAt: Date | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}

/** A kind's own `kind` property, one value, so the document's discriminator can map it. */
export function KindProperty(kind: SinkKind): PropertyDecorator {
  return ApiProperty({ enum: [kind], example: kind });
}
