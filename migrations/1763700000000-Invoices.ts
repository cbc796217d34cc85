import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Invoices and their items, with the triggers that keep every total right whatever writes them
 * (REST or any SQL client):
 * - an item's total is always quantity × amount_per_unit (a hand-written value is overwritten);
 * - an invoice's total is the sum of its items' totals, kept by statement-level triggers that apply
 *   one delta per invoice per statement (a 100,000-row insert updates its invoice once, not 100,000 times);
 * - a hand-written invoice total is overwritten by the kept one;
 * - totals above 2^53 − 1 (the largest integer a JSON client reads exactly) are refused.
 */
export class Invoices1763700000000 implements MigrationInterface {
  name = 'Invoices1763700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE invoices (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        invoice_no text NOT NULL,
        total_amount bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT invoices_invoice_no_key UNIQUE (invoice_no),
        CONSTRAINT invoices_invoice_no_check CHECK (length(btrim(invoice_no)) BETWEEN 1 AND 64),
        CONSTRAINT invoices_total_amount_range CHECK (total_amount BETWEEN 0 AND 9007199254740991)
      )`);
    await queryRunner.query(`CREATE INDEX invoices_created_at_id_idx ON invoices (created_at DESC, id DESC)`);
    await queryRunner.query(`
      CREATE TABLE invoice_items (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        invoice_id uuid NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
        quantity integer NOT NULL,
        amount_per_unit integer NOT NULL,
        total_amount bigint NOT NULL DEFAULT 0,
        -- clock_timestamp(): items inserted by one statement keep their order
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT invoice_items_quantity_check CHECK (quantity > 0),
        CONSTRAINT invoice_items_amount_per_unit_check CHECK (amount_per_unit >= 0),
        CONSTRAINT invoice_items_total_amount_range CHECK (total_amount BETWEEN 0 AND 9007199254740991)
      )`);
    await queryRunner.query(
      `CREATE INDEX invoice_items_invoice_id_idx ON invoice_items (invoice_id, created_at, id)`,
    );

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION rowcast_touch_updated_at() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        IF NEW IS DISTINCT FROM OLD THEN
          NEW.updated_at := now();
        END IF;
        RETURN NEW;
      END
      $fn$`);

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION invoice_items_compute_total() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        -- bigint before multiplying: int × int overflows at 2^31.
        NEW.total_amount := NEW.quantity::bigint * NEW.amount_per_unit::bigint;
        RETURN NEW;
      END
      $fn$`);

    // The only writer of invoices.total_amount. It marks its own UPDATE with a transaction-local
    // setting so that invoices_keep_total can tell it from a hand-written total (a failed statement
    // rolls the setting back with it). Invoices are locked in id order, so two statements moving
    // items in opposite directions cannot deadlock.
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION invoices_apply_item_deltas(invoice_ids uuid[], deltas numeric[]) RETURNS void
      LANGUAGE plpgsql AS $fn$
      DECLARE
        d record;
      BEGIN
        PERFORM set_config('rowcast.applying_item_totals', 'on', true);
        FOR d IN
          SELECT u.invoice_id, u.delta FROM unnest(invoice_ids, deltas) AS u(invoice_id, delta)
          WHERE u.delta <> 0 ORDER BY u.invoice_id
        LOOP
          UPDATE invoices SET total_amount = total_amount + d.delta WHERE id = d.invoice_id;
        END LOOP;
        PERFORM set_config('rowcast.applying_item_totals', 'off', true);
      END
      $fn$`);

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION invoice_items_sum_changes() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      DECLARE
        ids uuid[];
        deltas numeric[];
      BEGIN
        IF TG_OP = 'INSERT' THEN
          SELECT array_agg(invoice_id), array_agg(delta) INTO ids, deltas
          FROM (SELECT invoice_id, sum(total_amount) AS delta FROM new_items GROUP BY invoice_id) s;
        ELSIF TG_OP = 'UPDATE' THEN
          SELECT array_agg(invoice_id), array_agg(delta) INTO ids, deltas
          FROM (SELECT invoice_id, sum(amount) AS delta
                FROM (SELECT invoice_id, total_amount AS amount FROM new_items
                      UNION ALL
                      SELECT invoice_id, -total_amount FROM old_items) moves
                GROUP BY invoice_id) s;
        ELSE
          SELECT array_agg(invoice_id), array_agg(delta) INTO ids, deltas
          FROM (SELECT invoice_id, -sum(total_amount) AS delta FROM old_items GROUP BY invoice_id) s;
        END IF;
        PERFORM invoices_apply_item_deltas(ids, deltas);
        RETURN NULL;
      END
      $fn$`);

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION invoice_items_zero_totals() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM set_config('rowcast.applying_item_totals', 'on', true);
        UPDATE invoices SET total_amount = 0 WHERE total_amount <> 0;
        PERFORM set_config('rowcast.applying_item_totals', 'off', true);
        RETURN NULL;
      END
      $fn$`);

    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION invoices_keep_total() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        IF TG_OP = 'INSERT' THEN
          NEW.total_amount := 0; -- a new invoice has no items yet
        ELSIF current_setting('rowcast.applying_item_totals', true) IS DISTINCT FROM 'on' THEN
          NEW.total_amount := OLD.total_amount;
        END IF;
        RETURN NEW;
      END
      $fn$`);

    await queryRunner.query(`
      CREATE TRIGGER invoices_keep_total BEFORE INSERT OR UPDATE ON invoices
        FOR EACH ROW EXECUTE FUNCTION invoices_keep_total()`);
    await queryRunner.query(`
      CREATE TRIGGER invoices_touch_updated_at BEFORE UPDATE ON invoices
        FOR EACH ROW EXECUTE FUNCTION rowcast_touch_updated_at()`);
    await queryRunner.query(`
      CREATE TRIGGER invoice_items_compute_total BEFORE INSERT OR UPDATE ON invoice_items
        FOR EACH ROW EXECUTE FUNCTION invoice_items_compute_total()`);
    await queryRunner.query(`
      CREATE TRIGGER invoice_items_touch_updated_at BEFORE UPDATE ON invoice_items
        FOR EACH ROW EXECUTE FUNCTION rowcast_touch_updated_at()`);
    await queryRunner.query(`
      CREATE TRIGGER invoice_items_sum_inserted AFTER INSERT ON invoice_items
        REFERENCING NEW TABLE AS new_items
        FOR EACH STATEMENT EXECUTE FUNCTION invoice_items_sum_changes()`);
    await queryRunner.query(`
      CREATE TRIGGER invoice_items_sum_updated AFTER UPDATE ON invoice_items
        REFERENCING OLD TABLE AS old_items NEW TABLE AS new_items
        FOR EACH STATEMENT EXECUTE FUNCTION invoice_items_sum_changes()`);
    await queryRunner.query(`
      CREATE TRIGGER invoice_items_sum_deleted AFTER DELETE ON invoice_items
        REFERENCING OLD TABLE AS old_items
        FOR EACH STATEMENT EXECUTE FUNCTION invoice_items_sum_changes()`);
    await queryRunner.query(`
      CREATE TRIGGER invoice_items_zero_totals AFTER TRUNCATE ON invoice_items
        FOR EACH STATEMENT EXECUTE FUNCTION invoice_items_zero_totals()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE invoice_items`);
    await queryRunner.query(`DROP TABLE invoices`);
    for (const fn of [
      'invoice_items_zero_totals()',
      'invoice_items_sum_changes()',
      'invoices_apply_item_deltas(uuid[], numeric[])',
      'invoices_keep_total()',
      'invoice_items_compute_total()',
      'rowcast_touch_updated_at()',
    ]) {
      await queryRunner.query(`DROP FUNCTION ${fn}`);
    }
  }
}
