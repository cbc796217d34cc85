import { MigrationInterface, QueryRunner } from 'typeorm';

const OLD_SCOPES = `ARRAY['invoices:read', 'invoices:write', 'notifications:read', 'events:subscribe', 'webhooks:manage', 'sinks:manage', 'admin']`;
const NEW_SCOPES = `ARRAY['invoices:read', 'invoices:write', 'notifications:read', 'events:subscribe', 'webhooks:manage', 'sinks:manage', 'consumers:manage', 'consumers:consume', 'admin']`;

/**
 * Pull consumer groups (issue 20): workers take notifications over HTTP, acknowledge them, and
 * keep per-key order. A group is a position in the log plus the notifications it has taken from
 * the log and not yet seen acknowledged: no copy of the notification, only its id.
 *
 * consumer_groups.scanned_through: every notification up to it that matches the group's filter is
 * in consumer_messages or was acknowledged (an acknowledged one is deleted). A message is pending
 * (available from available_at), leased (to lease_id until leased_until) or dead (a dead letter:
 * after max_deliver deliveries, or terminated). With order_by 'key', ordering_key is the row (table
 * and primary key, or the values of key_columns when the group names them): a message is leased
 * only when no earlier message of its key is pending or leased.
 */
export class ConsumerGroups1764870000000 implements MigrationInterface {
  name = 'ConsumerGroups1764870000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE consumer_groups (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
        filter jsonb NOT NULL DEFAULT '{}',
        order_by text NOT NULL DEFAULT 'key' CHECK (order_by IN ('key', 'none')),
        key_columns text[] CHECK (cardinality(key_columns) BETWEEN 1 AND 10),
        ack_wait_ms int NOT NULL DEFAULT 30000 CHECK (ack_wait_ms > 0),
        max_ack_pending int NOT NULL DEFAULT 1000 CHECK (max_ack_pending > 0),
        max_deliver int CHECK (max_deliver > 0),
        backoff_ms int[] NOT NULL DEFAULT '{}',
        paused boolean NOT NULL DEFAULT false,
        scanned_through bigint NOT NULL CHECK (scanned_through >= 0),
        last_error text,
        last_error_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE consumer_messages (
        group_id uuid NOT NULL REFERENCES consumer_groups ON DELETE CASCADE,
        notification_id bigint NOT NULL,
        ordering_key text,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'dead')),
        deliveries int NOT NULL DEFAULT 0,
        available_at timestamptz NOT NULL DEFAULT now(),
        lease_id uuid UNIQUE,
        leased_until timestamptz,
        last_error text,
        dead_at timestamptz,
        PRIMARY KEY (group_id, notification_id),
        CHECK ((state = 'leased') = (lease_id IS NOT NULL AND leased_until IS NOT NULL))
      )`);
    await queryRunner.query(`CREATE INDEX consumer_messages_key ON consumer_messages (group_id, ordering_key, notification_id) WHERE state <> 'dead'`);
    await queryRunner.query(`CREATE INDEX consumer_messages_leased ON consumer_messages (group_id, leased_until) WHERE state = 'leased'`);
    await queryRunner.query(`CREATE INDEX consumer_messages_pending ON consumer_messages (group_id, notification_id) WHERE state = 'pending'`);
    await queryRunner.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check`);
    await queryRunner.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ${NEW_SCOPES})`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE consumer_messages, consumer_groups`);
    await queryRunner.query(`UPDATE api_keys SET scopes = array(SELECT unnest(scopes) INTERSECT SELECT unnest(${OLD_SCOPES}))`);
    await queryRunner.query(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), scopes = '{notifications:read}' WHERE cardinality(scopes) = 0`);
    await queryRunner.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check`);
    await queryRunner.query(`ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ${OLD_SCOPES})`);
  }
}
