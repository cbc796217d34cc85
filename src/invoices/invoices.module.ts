import { Module } from '@nestjs/common';
import { InvoiceItemsController } from './invoice-items.controller.js';
import { InvoicesController } from './invoices.controller.js';
import { InvoicesService } from './invoices.service.js';

@Module({
  controllers: [InvoicesController, InvoiceItemsController],
  providers: [InvoicesService],
  exports: [InvoicesService],
})
export class InvoicesModule {}
