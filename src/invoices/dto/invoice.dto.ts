import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { CreateInvoiceItemDto, InvoiceItemDto } from './invoice-item.dto.js';

const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);
const PRINTABLE = /^[^\p{Cc}]*$/u;

export class CreateInvoiceDto {
  /** Unique invoice number, 1–64 printable characters (trimmed). @example "INV-2026-0001" */
  @Transform(trim)
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  @Matches(PRINTABLE, { message: 'invoiceNo must not contain control characters' })
  invoiceNo: string;

  /** Items to create with the invoice, at most 1000. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => CreateInvoiceItemDto)
  items?: CreateInvoiceItemDto[];
}

export class UpdateInvoiceDto {
  /** New unique invoice number. @example "INV-2026-0002" */
  @Transform(trim)
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  @Matches(PRINTABLE, { message: 'invoiceNo must not contain control characters' })
  invoiceNo: string;
}

export class ListInvoicesQueryDto {
  /** Page size, 1–100. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number = 20;

  /** The `nextCursor` of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;
}

export class InvoiceDto {
  id: string;
  invoiceNo: string;
  /** Sum of the items' totals in minor units, kept by the database. */
  totalAmount: number;
  items: InvoiceItemDto[];
  createdAt: Date;
  updatedAt: Date;
}

export class InvoicePageDto {
  data: InvoiceDto[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}
