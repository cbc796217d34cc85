import { InvoiceItemDto } from './dto/invoice-item.dto.js';
import { InvoiceDto } from './dto/invoice.dto.js';
import { InvoiceItemEntity } from './invoice-item.entity.js';
import { InvoiceEntity } from './invoice.entity.js';

export function mapInvoiceItem(item: InvoiceItemEntity): InvoiceItemDto {
  return {
    id: item.id,
    invoiceId: item.invoiceId,
    quantity: item.quantity,
    amountPerUnit: item.amountPerUnit,
    totalAmount: item.totalAmount,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

export function mapInvoice(invoice: InvoiceEntity, items: InvoiceItemEntity[]): InvoiceDto {
  return {
    id: invoice.id,
    invoiceNo: invoice.invoiceNo,
    totalAmount: invoice.totalAmount,
    items: items.map(mapInvoiceItem),
    createdAt: invoice.createdAt,
    updatedAt: invoice.updatedAt,
  };
}
