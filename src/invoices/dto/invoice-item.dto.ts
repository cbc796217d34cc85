import { ApiProperty } from '@nestjs/swagger';
import { IntField, UuidField } from '../../common/validation.js';

const INT_MAX = 2_147_483_647;

export class CreateInvoiceItemDto {
  @IntField({ min: 1, max: INT_MAX, description: 'How many units', example: 3 })
  quantity: number;

  @IntField({ min: 0, max: INT_MAX, description: 'Price of one unit in minor units (cents)', example: 1250 })
  amountPerUnit: number;
}

export class UpdateInvoiceItemDto {
  @IntField({ min: 1, max: INT_MAX, optional: true, description: 'New quantity', example: 4 })
  quantity?: number;

  @IntField({ min: 0, max: INT_MAX, optional: true, description: 'New unit price in minor units', example: 990 })
  amountPerUnit?: number;

  @UuidField({ optional: true, description: 'Moves the item to this invoice' })
  invoiceId?: string;
}

export class InvoiceItemDto {
  @ApiProperty({ format: 'uuid' })
  id: string;
  @ApiProperty({ format: 'uuid' })
  invoiceId: string;
  quantity: number;
  /** Unit price in minor units. */
  amountPerUnit: number;
  /** quantity × amountPerUnit, kept by the database. */
  totalAmount: number;
  createdAt: Date;
  updatedAt: Date;
}
