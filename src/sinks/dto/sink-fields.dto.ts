import { ApiProperty } from '@nestjs/swagger';
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
  /** After the last retry of a notification (webhooks; brokers retry without end): dead-letter it, or pause. */
  @ApiProperty({ enum: EXHAUSTED_ACTIONS })
  onExhausted: ExhaustedAction;
  /** The last notification id delivered or passed over. @example "1042" */
  position: string;
  /** The most recent failure (kept after delivery recovers; see lastErrorAt), null if none yet. */
  lastError: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastErrorAt: Date | null;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt: Date;
}

/** A kind's own `kind` property, one value, so the document's discriminator can map it. */
export function KindProperty(kind: SinkKind): PropertyDecorator {
  return ApiProperty({ enum: [kind], example: kind });
}
