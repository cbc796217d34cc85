import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { IntField, TextField } from '../../common/validation.js';
import { CreateInvoiceItemDto, InvoiceItemDto } from './invoice-item.dto.js';

export class CreateInvoiceDto {
  @TextField({ maxLength: 64, description: 'Unique invoice number (trimmed)', example: 'INV-2026-0001' })
  invoiceNo: string;

  /** Items to create with the invoice, at most 1000. */
  // Stacked decorators register bottom-up, so the type check at the bottom runs first.
  @IsOptional()
  @Type(() => CreateInvoiceItemDto)
  @ValidateNested({ each: true })
  @ArrayMaxSize(1000)
  @IsArray()
  items?: CreateInvoiceItemDto[];
}

export class UpdateInvoiceDto {
  @TextField({ maxLength: 64, description: 'New unique invoice number (trimmed)', example: 'INV-2026-0002' })
  invoiceNo: string;
}

export class ListInvoicesQueryDto {
  @Type(() => Number)
  @IntField({ min: 1, max: 100, optional: true, description: 'Page size', example: 20 })
  limit?: number = 20;

  /** The `nextCursor` of the previous page. */
  @IsOptional()
  @IsString()
  @MaxLength(512)
  cursor?: string;

  @TextField({
    maxLength: 64,
    optional: true,
    description: 'Only the invoices whose number starts with this (trimmed), in any case',
    example: 'INV-2026',
  })
  invoiceNo?: string;
}

export class InvoiceDto {
  @ApiProperty({ format: 'uuid' })
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
