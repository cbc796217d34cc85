import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * API keys: a name, its scopes, an optional table restriction and a SHA-256 of the secret (the
 * secret itself is shown once by `npm run keys -- create` and never stored). Revoked keys stay as
 * rows: once any key has existed, the service requires one, so revoking the last key does not
 * open the service again. A name is unique among keys that are not revoked.
 */
export class ApiKeys1764000000000 implements MigrationInterface {
  name = 'ApiKeys1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
        scopes text[] NOT NULL CHECK (
          cardinality(scopes) > 0
          AND scopes <@ ARRAY['invoices:read', 'invoices:write', 'notifications:read', 'events:subscribe', 'admin']
        ),
        tables text[] CHECK (tables IS NULL OR cardinality(tables) > 0),
        secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX api_keys_active_name_key ON api_keys (name) WHERE revoked_at IS NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE api_keys`);
  }
}
