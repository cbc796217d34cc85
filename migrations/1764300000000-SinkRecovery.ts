import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When a sink delivered again after its last error: with it, `last_error` says whether it is
 * current (recovered_at null) or history (recovered_at set), and both keep their times.
 */
export class SinkRecovery1764300000000 implements MigrationInterface {
  name = 'SinkRecovery1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE sinks ADD COLUMN recovered_at timestamptz`);
    // An active sink with an error had, but for one resumed and not yet sending, delivered again since.
    await queryRunner.query(`UPDATE sinks SET recovered_at = now() WHERE last_error IS NOT NULL AND state = 'active'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE sinks DROP COLUMN recovered_at`);
  }
}
