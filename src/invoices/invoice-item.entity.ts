import {
  Column,
  CreateDateColumn,
  Entity,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { bigintToNumber } from '../database/transformers.js';
import type { InvoiceEntity } from './invoice.entity.js';

@Entity('invoice_items')
export class InvoiceItemEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'invoice_id', type: 'uuid' })
  invoiceId: string;

  @ManyToOne('InvoiceEntity', (invoice: InvoiceEntity) => invoice.items, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'invoice_id' })
  invoice?: InvoiceEntity;

  @Column({ type: 'int' })
  quantity: number;

  @Column({ name: 'amount_per_unit', type: 'int' })
  amountPerUnit: number;

  /** quantity × amountPerUnit, computed by the database's trigger. */
  @Column({ name: 'total_amount', type: 'bigint', transformer: bigintToNumber, insert: false, update: false })
  totalAmount: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz', default: () => 'clock_timestamp()' })
  updatedAt: Date;
}
