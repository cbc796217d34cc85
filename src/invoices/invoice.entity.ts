import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  OneToMany,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
} from 'typeorm';
import type { InvoiceItemEntity } from './invoice-item.entity.js';
import { bigintToNumber, TOTAL_AMOUNT_RANGE } from './total-amount.js';

/** Mirrors the migration (names included) so that `migration:generate` finds nothing to add. */
@Entity('invoices')
@Unique('invoices_invoice_no_key', ['invoiceNo'])
@Check('invoices_invoice_no_check', `length(btrim(invoice_no)) BETWEEN 1 AND 64`)
@Check('invoices_total_amount_range', TOTAL_AMOUNT_RANGE)
@Index('invoices_created_at_id_idx', { synchronize: false })
@Index('invoices_invoice_no_prefix_idx', { synchronize: false })
export class InvoiceEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'invoice_no', type: 'text' })
  invoiceNo: string;

  /** Kept by the database's triggers; never written by the app. */
  @Column({
    name: 'total_amount',
    type: 'bigint',
    default: 0,
    transformer: bigintToNumber,
    insert: false,
    update: false,
  })
  totalAmount: number;

  @OneToMany('InvoiceItemEntity', (item: InvoiceItemEntity) => item.invoice)
  items: InvoiceItemEntity[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
