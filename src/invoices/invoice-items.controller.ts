import { Body, Controller, Delete, HttpCode, HttpStatus, Patch, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { UuidParam } from '../common/http/uuid-param.js';
import { CreateInvoiceItemDto, InvoiceItemDto, UpdateInvoiceItemDto } from './dto/invoice-item.dto.js';
import { InvoicesService } from './invoices.service.js';

@ApiTags('invoices')
@Controller('invoices/:id/items')
@RequireScope('invoices:write')
export class InvoiceItemsController {
  constructor(private readonly service: InvoicesService) {}

  /** Add an item to an invoice */
  @Post()
  @HttpCode(HttpStatus.CREATED)
  @ApiErrors(400, 404, 413, 422)
  create(@UuidParam('id') invoiceId: string, @Body() dto: CreateInvoiceItemDto): Promise<InvoiceItemDto> {
    return this.service.addItem(invoiceId, dto);
  }

  /** Change an item's quantity or unit price, or move it to another invoice */
  @Patch(':itemId')
  @ApiErrors(400, 404, 413, 422)
  update(
    @UuidParam('id') invoiceId: string,
    @UuidParam('itemId') itemId: string,
    @Body() dto: UpdateInvoiceItemDto,
  ): Promise<InvoiceItemDto> {
    return this.service.updateItem(invoiceId, itemId, dto);
  }

  /** Remove an item from an invoice */
  @Delete(':itemId')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 404)
  remove(@UuidParam('id') invoiceId: string, @UuidParam('itemId') itemId: string): Promise<void> {
    return this.service.removeItem(invoiceId, itemId);
  }
}
