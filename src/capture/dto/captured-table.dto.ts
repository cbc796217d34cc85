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
}
