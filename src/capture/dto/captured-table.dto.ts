import { ApiProperty } from '@nestjs/swagger';

/** A table under capture. */
export class CapturedTableDto {
  /** The name notifications, filters and keys use. @example "invoices" */
  table: string;
  /** @example "public" */
  schema: string;
  /** @example "invoices" */
  name: string;
  /** Updates changing none of these are not captured; null: every column counts. */
  @ApiProperty({ type: [String], nullable: true })
  columns: string[] | null;
  /** The primary key's columns as they are now; null: the table has none, and its notifications' `pk` is the whole row. @example ["id"] */
  @ApiProperty({ type: [String], nullable: true })
  key: string[] | null;
  /** Whether updates and deletions carry the old row (`capture enable --no-old` turns it off). */
  keepOld: boolean;
  /** What keeps this table's capture from being complete (a trigger dropped or disabled by hand); empty when it is armed. @example [] */
  problems: string[];
  /** Columns the log is indexed by, for `GET /notifications?table=…&where=<column>:<value>` (`npm run capture -- lookup`). @example [] */
  lookups: string[];
}
