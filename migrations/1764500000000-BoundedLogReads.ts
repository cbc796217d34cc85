import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Reads on a request path that do not grow with the journal (issue 22).
 *
 * `notification_tables`: every table name the log has held changes of, as notifications name it.
 * The drainer adds a batch's names in the statement that appends the batch (a few index probes,
 * no write unless a name is new), so the check behind every subscribe, filter and sink ("is this
 * table known?") reads a handful of rows instead of `SELECT DISTINCT … FROM capture.changes`.
 * Names stay once retention has deleted their changes: a table the log ever held stays known.
 *
 * `notification_batches.drained_through`: the highest journal id drained by this batch or any
 * before it, written by the drainer with each batch. /health and /metrics estimate the backlog as
 * the journal's highest id minus the newest batch's `drained_through` (two index probes), instead
 * of counting capture.undrained(). `notification_retention.drained_through` keeps it when retention
 * deletes the newest batch, and holds what was drained before this migration (seeded here).
 */
export class BoundedLogReads1764500000000 implements MigrationInterface {
  name = 'BoundedLogReads1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(`CREATE TABLE notification_tables (name text PRIMARY KEY)`);
    // Once, here: the scan the request path no longer makes. Undrained rows count too, as before.
    await sql(`
      INSERT INTO notification_tables (name)
      SELECT capture.qualified_name(schema_name, table_name) FROM capture.changes
      UNION SELECT table_name FROM notifications_legacy`);
    await sql(`ALTER TABLE notification_batches ADD COLUMN drained_through bigint`);
    await sql(`ALTER TABLE notification_retention ADD COLUMN drained_through bigint NOT NULL DEFAULT 0`);
    await sql(`
      UPDATE notification_retention
      SET drained_through = greatest((SELECT max(x) FROM notification_batches, unnest(change_ids) x),
                                     (SELECT max(change_id) FROM notifications_legacy), 0)
      WHERE id = 1`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const sql = (text: string) => queryRunner.query(text);
    await sql(`ALTER TABLE notification_retention DROP COLUMN drained_through`);
    await sql(`ALTER TABLE notification_batches DROP COLUMN drained_through`);
    await sql(`DROP TABLE notification_tables`);
  }
}
