import { Column, CreateDateColumn, Entity, OneToMany, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { bigintToNumber } from '../database/transformers.js';
import type { InvoiceItemEntity } from './invoice-item.entity.js';

@Entity('invoices')
export class InvoiceEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'invoice_no', type: 'text', unique: true })
  invoiceNo: string;

  /** Kept by the database's triggers; never written by the app. */
  @Column({ name: 'total_amount', type: 'bigint', transformer: bigintToNumber, insert: false, update: false })
  totalAmount: number;

  @OneToMany('InvoiceItemEntity', (item: InvoiceItemEntity) => item.invoice)
  items: InvoiceItemEntity[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
