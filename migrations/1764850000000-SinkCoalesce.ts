import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A sink may take one net change per row per transaction (`coalesce: 'transaction'`, issue 18
 * item 12); null delivers every change, as before.
 */
export class SinkCoalesce1764850000000 implements MigrationInterface {
  name = 'SinkCoalesce1764850000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE sinks ADD COLUMN coalesce_mode text CONSTRAINT sinks_coalesce_mode_check CHECK (coalesce_mode IN ('transaction'))`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE sinks DROP COLUMN coalesce_mode`);
  }
}
