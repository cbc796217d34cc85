import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { bigintToNumber } from './column-transformers.js';
import type { InvoiceEntity } from './invoice.entity.js';
import { TOTAL_AMOUNT_RANGE } from './total-amount.js';

/** Mirrors the migration (names included) so that `migration:generate` finds nothing to add. */
@Entity('invoice_items')
@Check('invoice_items_quantity_check', `quantity > 0`)
@Check('invoice_items_amount_per_unit_check', `amount_per_unit >= 0`)
@Check('invoice_items_total_amount_range', TOTAL_AMOUNT_RANGE)
@Index('invoice_items_invoice_id_idx', { synchronize: false })
export class InvoiceItemEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'invoice_id', type: 'uuid' })
  invoiceId: string;

  @ManyToOne('InvoiceEntity', (invoice: InvoiceEntity) => invoice.items, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'invoice_id', foreignKeyConstraintName: 'invoice_items_invoice_id_fkey' })
  invoice?: InvoiceEntity;

  @Column({ type: 'int' })
  quantity: number;

  @Column({ name: 'amount_per_unit', type: 'int' })
  amountPerUnit: number;

  /** quantity × amountPerUnit, computed by the database's trigger. */
  @Column({
    name: 'total_amount',
    type: 'bigint',
    default: 0,
    transformer: bigintToNumber,
    insert: false,
    update: false,
  })
  totalAmount: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  updatedAt: Date;
}
