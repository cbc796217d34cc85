import { IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';

const INT_MAX = 2_147_483_647;

export class CreateInvoiceItemDto {
  /** How many units; a positive integer. @example 3 */
  @IsInt()
  @Min(1)
  @Max(INT_MAX)
  quantity: number;

  /** Price of one unit in minor units (cents). @example 1250 */
  @IsInt()
  @Min(0)
  @Max(INT_MAX)
  amountPerUnit: number;
}

export class UpdateInvoiceItemDto {
  /** New quantity. @example 4 */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(INT_MAX)
  quantity?: number;

  /** New unit price in minor units. @example 990 */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(INT_MAX)
  amountPerUnit?: number;

  /** Moves the item to this invoice. */
  @IsOptional()
  @IsUUID('all')
  invoiceId?: string;
}

export class InvoiceItemDto {
  id: string;
  invoiceId: string;
  quantity: number;
  /** Unit price in minor units. */
  amountPerUnit: number;
  /** quantity × amountPerUnit, kept by the database. */
  totalAmount: number;
  createdAt: Date;
  updatedAt: Date;
}
