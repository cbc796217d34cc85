import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { TABLE_PATTERN } from '../../../client/src/protocol.js';
import { WhereField } from '../../events/notification-filter.js';
import { BACKFILL_STATES, type Backfill, type BackfillState, progress } from '../backfill.js';

const TABLE_MESSAGE = 'table must name a table such as invoices or sales.orders';
/** A sink's id (a UUID) or its name. */
const SINK_REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DESTINATIONS_MESSAGE = 'destinations must be a list of sink ids or names';

export class CreateBackfillDto {
  /** The table to read: `invoices` (or `public.invoices`), `sales.orders` outside `public`. It must be under capture and have a primary key. @example "invoices" */
  @IsString({ message: TABLE_MESSAGE })
  @MaxLength(200)
  @Matches(TABLE_PATTERN, { message: TABLE_MESSAGE })
  table: string;

  /**
   * Only the rows with these column values (compared as text, as in a subscription's `where`);
   * left out: every row. @example {"status": "open"}
   */
  @WhereField()
  where?: Record<string, string | number | boolean | null>;

  /**
   * Sinks (webhooks or broker sinks, each by id or name) to deliver the reads to, and no one else:
   * no subscription or consumer group gets them, and those sinks get them whatever their `events`
   * (their `tables` and `where` still apply). Left out: whoever names `<table>.read`.
   * @example ["search-indexer"]
   */
  @IsOptional()
  @Matches(SINK_REFERENCE, { each: true, message: DESTINATIONS_MESSAGE })
  @IsString({ each: true, message: DESTINATIONS_MESSAGE })
  @ArrayMaxSize(50)
  @ArrayMinSize(1, { message: 'destinations must name at least one sink (leave it out for every subscriber of <table>.read)' })
  @IsArray({ message: DESTINATIONS_MESSAGE })
  destinations?: string[];
}

/** A backfill and how far it is. */
export class BackfillDto {
  /** @example "3" */
  id: string;
  /** The table as it was called at start. @example "invoices" */
  table: string;
  /** Its primary key's columns, the order rows are read in. @example ["id"] */
  key: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, nullable: true, description: 'The where it was started with; null: every row' })
  where: Record<string, string | number | boolean | null> | null;
  @ApiProperty({ type: [String], nullable: true, description: 'The sinks (ids) its reads go to, and no one else; null: whoever names <table>.read' })
  destinations: string[] | null;
  @ApiProperty({ enum: BACKFILL_STATES, description: 'running → completed; or paused (resume), cancelled, failed (see error)' })
  state: BackfillState;
  /** Rows read so far (each one a `<table>.read` notification). */
  rowsDone: number;
  /** The rows to read, as the planner estimated them at start; the rows read once it completed. */
  estimate: number;
  @ApiProperty({ type: 'number', nullable: true, description: 'Rows per second since the start or the last resume; null before the first rows' })
  rate: number | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'Seconds left at that rate (0 once completed); null when not running or not known yet' })
  etaSeconds: number | null;
  /** Rows in the last chunk asked for: adapted so that a chunk holds its row locks about 20 ms (the slowest ≤ 50 ms or so). */
  chunkSize: number;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'The last key read ({column: value}); null before the first chunk' })
  cursor: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'The largest key at start: rows inserted after it come through live capture. null: the table was empty' })
  endKey: Record<string, unknown> | null;
  @ApiProperty({ type: 'string', nullable: true, description: 'Why it failed' })
  error: string | null;
  /** Who started it; its reads carry it as their actor. @example "alice" */
  actor: string;
  @ApiProperty({ format: 'date-time' })
  createdAt: string;
  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: 'string' })
  finishedAt: string | null;
}

export function toBackfillDto(backfill: Backfill): BackfillDto {
  return {
    id: backfill.id,
    table: backfill.table,
    key: backfill.key,
    where: backfill.where,
    destinations: backfill.destinations,
    state: backfill.state,
    rowsDone: backfill.rowsDone,
    estimate: backfill.estimate,
    ...progress(backfill),
    chunkSize: backfill.chunkSize,
    cursor: backfill.cursor,
    endKey: backfill.endKey,
    error: backfill.error,
    actor: backfill.actor,
    createdAt: backfill.createdAt.toISOString(),
    updatedAt: backfill.updatedAt.toISOString(),
    finishedAt: backfill.finishedAt?.toISOString() ?? null,
  };
}
