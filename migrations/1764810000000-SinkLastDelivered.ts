import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The last notification a sink delivered, and when: its position does not say (it also moves past
 * what the filter passes over and what was dead-lettered), and its kept attempts are webhooks'
 * only, the newest 1,000, which a long failure pushes the last success out of. Written with the
 * position, by the same checkpoint.
 */
export class SinkLastDelivered1764810000000 implements MigrationInterface {
  name = 'SinkLastDelivered1764810000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE sinks ADD COLUMN last_delivered_id bigint, ADD COLUMN last_delivered_at timestamptz`);
    // What the kept attempts still tell (webhooks); the others say at their next delivery.
    await queryRunner.query(`
      UPDATE sinks s SET last_delivered_id = d.notification_id, last_delivered_at = d.at
      FROM (SELECT DISTINCT ON (sink_id) sink_id, notification_id, at FROM sink_deliveries
            WHERE delivered ORDER BY sink_id, id DESC) d
      WHERE d.sink_id = s.id`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE sinks DROP COLUMN last_delivered_id, DROP COLUMN last_delivered_at`);
  }
}
