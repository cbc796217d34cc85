import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The notification log: each captured change once (change_id is unique), with its event name and
 * payload as the API returns them. table_name and entity_id are kept apart from the payload so the
 * filters of GET /notifications use indexes; every index ends in id, the order of every query.
 */
export class Notifications1763800000001 implements MigrationInterface {
  name = 'Notifications1763800000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE notifications (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        change_id bigint NOT NULL,
        event text NOT NULL,
        table_name text NOT NULL,
        entity_id text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT notifications_change_id_key UNIQUE (change_id)
      )`);
    // The highest id retention has deleted: a client resuming from an id below it has missed
    // notifications that no longer exist, and is told so instead of getting a silent gap.
    await queryRunner.query(`
      CREATE TABLE notification_retention (
        id int PRIMARY KEY CHECK (id = 1),
        purged_through bigint NOT NULL DEFAULT 0
      )`);
    await queryRunner.query(`INSERT INTO notification_retention (id) VALUES (1)`);
    await queryRunner.query(`CREATE INDEX notifications_event_id_idx ON notifications (event text_pattern_ops, id)`);
    await queryRunner.query(`CREATE INDEX notifications_table_id_idx ON notifications (table_name, id)`);
    await queryRunner.query(`CREATE INDEX notifications_entity_id_idx ON notifications (entity_id, id)`);
    // Only retention reads by time, and rows arrive in time order.
    await queryRunner.query(`CREATE INDEX notifications_created_at_idx ON notifications USING brin (created_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE notification_retention`);
    await queryRunner.query(`DROP TABLE notifications`);
  }
}
