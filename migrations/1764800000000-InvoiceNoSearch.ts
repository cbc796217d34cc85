import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `GET /invoices?invoiceNo=` finds invoices by the start of their number, whatever its case (the
 * dashboard's search box). The unique constraint's index serves neither: LIKE can use a btree
 * only under the C collation or with text_pattern_ops, and the search compares lower(invoice_no).
 */
export class InvoiceNoSearch1764800000000 implements MigrationInterface {
  name = 'InvoiceNoSearch1764800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX invoices_invoice_no_prefix_idx ON invoices (lower(invoice_no) text_pattern_ops)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX invoices_invoice_no_prefix_idx`);
  }
}
