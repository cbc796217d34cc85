import { MigrationInterface, QueryRunner } from 'typeorm';

const OLD_SCOPES = `ARRAY['invoices:read', 'invoices:write', 'notifications:read', 'events:subscribe', 'admin']`;
const NEW_SCOPES = `ARRAY['invoices:read', 'invoices:write', 'notifications:read', 'events:subscribe', 'webhooks:manage', 'sinks:manage', 'admin']`;

/**
 * Sinks: destinations (webhooks, RabbitMQ, NATS JetStream) that each read the notification log from
 * a position of their own. A sink's position is the highest notification id it has delivered or
 * passed over (its filter did not match); it only moves forward while its owner (the instance
 * holding its lease) delivers, and an owner whose lease was taken over can no longer move it.
 * `revision` counts moves of the position through the API (a redelivery from a cursor): a
 * deliverer that read an older revision cannot write its position over one.
 *
 * Kind-specific settings are in `config` (returned by the API); credentials and webhook secrets in
 * `secrets` (never returned after creation). Delivery attempts are kept per sink for inspection
 * (the newest ones; the engine trims them), dead letters until redelivered, redeliveries until
 * delivered.
 */
export class Sinks1764200000000 implements MigrationInterface {
  name = 'Sinks1764200000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE sinks (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        kind text NOT NULL CHECK (kind IN ('webhook', 'rabbitmq', 'nats')),
        name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
        filter jsonb NOT NULL DEFAULT '{}',
        config jsonb NOT NULL,
        secrets jsonb NOT NULL DEFAULT '{}',
        state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'failing')),
        on_exhausted text NOT NULL DEFAULT 'dead-letter' CHECK (on_exhausted IN ('dead-letter', 'pause')),
        position bigint NOT NULL CHECK (position >= 0),
        last_error text,
        last_error_at timestamptz,
        owner text,
        lease_until timestamptz,
        revision int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE sink_deliveries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        sink_id uuid NOT NULL REFERENCES sinks ON DELETE CASCADE,
        notification_id bigint NOT NULL,
        at timestamptz NOT NULL,
        status_code int,
        latency_ms int NOT NULL,
        delivered boolean NOT NULL,
        detail text NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX sink_deliveries_sink_id ON sink_deliveries (sink_id, id)`);
    await queryRunner.query(`
      CREATE TABLE sink_dead_letters (
        sink_id uuid NOT NULL REFERENCES sinks ON DELETE CASCADE,
        notification_id bigint NOT NULL,
        attempts int NOT NULL,
        last_error text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (sink_id, notification_id)
      )`);
    await queryRunner.query(`
      CREATE TABLE sink_redeliveries (
        sink_id uuid NOT NULL REFERENCES sinks ON DELETE CASCADE,
        notification_id bigint NOT NULL,
        PRIMARY KEY (sink_id, notification_id)
      )`);
    await queryRunner.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check`);
    await queryRunner.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ${NEW_SCOPES})`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE sink_redeliveries, sink_dead_letters, sink_deliveries, sinks`);
    await queryRunner.query(`UPDATE api_keys SET scopes = array(SELECT unnest(scopes) INTERSECT SELECT unnest(${OLD_SCOPES}))`);
    await queryRunner.query(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), scopes = '{notifications:read}' WHERE cardinality(scopes) = 0`);
    await queryRunner.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check`);
    await queryRunner.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ${OLD_SCOPES})`,
    );
  }
}
