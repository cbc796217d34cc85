import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TestDatabase } from '../../test/support/database.js';
import { DatabaseModule } from '../database/database.module.js';
import { InvoicesModule } from './invoices.module.js';
import { InvoicesService } from './invoices.service.js';
import {
  DuplicateInvoiceNo,
  EmptyItemUpdate,
  InvalidCursor,
  InvoiceItemNotFound,
  InvoiceNotFound,
  TargetInvoiceNotFound,
  TotalOutOfRange,
} from './invoices.errors.js';

const MISSING = '6f1c2f4e-0000-4000-8000-000000000000';

/** The service on a real database (its logic is SQL), without HTTP. */
describe('InvoicesService', () => {
  let db: TestDatabase;
  let sut: InvoicesService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    db = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [DatabaseModule.forRoot(db.url, 4), InvoicesModule],
    }).compile();
    await moduleRef.init();
    sut = moduleRef.get(InvoicesService);
    close = () => moduleRef.close();
  });
  afterAll(async () => {
    await close();
    await db.drop();
  });

  it('creates an invoice with items in one transaction', async () => {
    const invoice = await sut.create({ invoiceNo: 'S-1', items: [{ quantity: 2, amountPerUnit: 21 }] });
    expect(invoice).toMatchObject({ invoiceNo: 'S-1', totalAmount: 42, items: [{ totalAmount: 42 }] });
  });

  it('rolls back the invoice when an item is refused', async () => {
    await expect(
      sut.create({ invoiceNo: 'S-rollback', items: [{ quantity: 2147483647, amountPerUnit: 2147483647 }] }),
    ).rejects.toBeInstanceOf(TotalOutOfRange);
    const { rowCount } = await db.sql.query(`SELECT 1 FROM invoices WHERE invoice_no = 'S-rollback'`);
    expect(rowCount).toBe(0);
  });

  it('throws typed domain errors', async () => {
    await sut.create({ invoiceNo: 'S-dup' });
    await expect(sut.create({ invoiceNo: 'S-dup' })).rejects.toBeInstanceOf(DuplicateInvoiceNo);
    await expect(sut.get(MISSING)).rejects.toBeInstanceOf(InvoiceNotFound);
    await expect(sut.remove(MISSING)).rejects.toBeInstanceOf(InvoiceNotFound);
    await expect(sut.addItem(MISSING, { quantity: 1, amountPerUnit: 1 })).rejects.toBeInstanceOf(InvoiceNotFound);
    const invoice = await sut.create({ invoiceNo: 'S-errors', items: [{ quantity: 1, amountPerUnit: 1 }] });
    await expect(sut.updateItem(invoice.id, MISSING, { quantity: 2 })).rejects.toBeInstanceOf(InvoiceItemNotFound);
    await expect(sut.updateItem(invoice.id, invoice.items[0].id, {})).rejects.toBeInstanceOf(EmptyItemUpdate);
    await expect(sut.updateItem(invoice.id, invoice.items[0].id, { invoiceId: MISSING })).rejects.toBeInstanceOf(
      TargetInvoiceNotFound,
    );
    await expect(sut.list(10, 'garbage')).rejects.toBeInstanceOf(InvalidCursor);
  });

  it('returns a null cursor on the last page', async () => {
    const page = await sut.list(100);
    expect(page.nextCursor).toBeNull();
    expect(page.data.length).toBeGreaterThan(0);
  });
});
