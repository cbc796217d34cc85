import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator.js';
import { ApiErrors } from '../common/http/api-errors.decorator.js';
import { UuidParam } from '../common/http/uuid-param.js';
import { CreateInvoiceDto, InvoiceDto, InvoicePageDto, ListInvoicesQueryDto, UpdateInvoiceDto } from './dto/invoice.dto.js';
import { InvoicesService } from './invoices.service.js';

@ApiTags('invoices')
@Controller('invoices')
export class InvoicesController {
  constructor(private readonly service: InvoicesService) {}

  /** Create an invoice, optionally with items */
  @Post()
  @RequireScope('invoices:write')
  @HttpCode(HttpStatus.CREATED)
  @ApiErrors(400, 409, 413, 422)
  create(@Body() dto: CreateInvoiceDto): Promise<InvoiceDto> {
    return this.service.create(dto);
  }

  /** List invoices, newest first, one page at a time; `invoiceNo` finds them by the start of their number */
  @Get()
  @RequireScope('invoices:read')
  @ApiErrors(400)
  list(@Query() query: ListInvoicesQueryDto): Promise<InvoicePageDto> {
    return this.service.list(query.limit ?? 20, query.cursor, query.invoiceNo);
  }

  /** Get one invoice with its items */
  @Get(':id')
  @RequireScope('invoices:read')
  @ApiErrors(400, 404)
  get(@UuidParam('id') id: string): Promise<InvoiceDto> {
    return this.service.get(id);
  }

  /** Change an invoice's number */
  @Patch(':id')
  @RequireScope('invoices:write')
  @ApiErrors(400, 404, 409, 413)
  update(@UuidParam('id') id: string, @Body() dto: UpdateInvoiceDto): Promise<InvoiceDto> {
    return this.service.update(id, dto);
  }

  /** Delete an invoice and its items */
  @Delete(':id')
  @RequireScope('invoices:write')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiErrors(400, 404)
  remove(@UuidParam('id') id: string): Promise<void> {
    return this.service.remove(id);
  }
}
