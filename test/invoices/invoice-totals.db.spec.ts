import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TOTAL_AMOUNT } from '../../src/invoices/total-amount.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** The totals triggers, exercised by plain SQL with no app code in the way. */
describe('invoice totals (triggers, direct SQL)', () => {
  let db: TestDatabase;
  let sql: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = db.sql;
  });
  afterAll(() => db.drop());

  async function invoice(no: string): Promise<string> {
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [no]);
    return rows[0].id;
  }
  async function item(invoiceId: string, quantity: number, amount: number): Promise<string> {
    const { rows } = await sql.query(
      `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, $2, $3) RETURNING id`,
      [invoiceId, quantity, amount],
    );
    return rows[0].id;
  }
  async function total(invoiceId: string): Promise<number> {
    const { rows } = await sql.query(`SELECT total_amount FROM invoices WHERE id = $1`, [invoiceId]);
    return Number(rows[0].total_amount);
  }
  async function consistent(): Promise<void> {
    const { rows } = await sql.query(`
      SELECT i.id, i.total_amount, coalesce(sum(it.total_amount), 0) AS summed
      FROM invoices i LEFT JOIN invoice_items it ON it.invoice_id = i.id
      GROUP BY i.id HAVING i.total_amount <> coalesce(sum(it.total_amount), 0)`);
    expect(rows).toEqual([]);
    const items = await sql.query(
      `SELECT id FROM invoice_items WHERE total_amount <> quantity::bigint * amount_per_unit`,
    );
    expect(items.rows).toEqual([]);
  }

  it('computes item and invoice totals on insert', async () => {
    const id = await invoice('T-insert');
    await item(id, 3, 250);
    await item(id, 2, 1);
    const { rows } = await sql.query(`SELECT total_amount FROM invoice_items WHERE invoice_id = $1 ORDER BY 1`, [id]);
    expect(rows.map((row) => Number(row.total_amount))).toEqual([2, 750]);
    expect(await total(id)).toBe(752);
  });

  it('inserts many items in one statement with one total', async () => {
    const id = await invoice('T-bulk');
    await sql.query(
      `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit)
       SELECT $1, g, 10 FROM generate_series(1, 1000) g`,
      [id],
    );
    expect(await total(id)).toBe(10 * (1000 * 1001) / 2);
  });

  it('follows updates of quantity and unit price', async () => {
    const id = await invoice('T-update');
    const a = await item(id, 1, 100);
    await item(id, 1, 5);
    await sql.query(`UPDATE invoice_items SET quantity = 4 WHERE id = $1`, [a]);
    expect(await total(id)).toBe(405);
    await sql.query(`UPDATE invoice_items SET amount_per_unit = 7, quantity = 2 WHERE invoice_id = $1`, [id]);
    expect(await total(id)).toBe(28);
  });

  it('moves an item to another invoice', async () => {
    const from = await invoice('T-move-from');
    const to = await invoice('T-move-to');
    const moved = await item(from, 2, 50);
    await item(from, 1, 1);
    await item(to, 1, 1000);
    await sql.query(`UPDATE invoice_items SET invoice_id = $1, quantity = 3 WHERE id = $2`, [to, moved]);
    expect(await total(from)).toBe(1);
    expect(await total(to)).toBe(1150);
  });

  it('subtracts deleted items, and cascades with the invoice', async () => {
    const id = await invoice('T-delete');
    const a = await item(id, 2, 10);
    await item(id, 1, 3);
    await sql.query(`DELETE FROM invoice_items WHERE id = $1`, [a]);
    expect(await total(id)).toBe(3);
    await sql.query(`DELETE FROM invoices WHERE id = $1`, [id]);
    const { rowCount } = await sql.query(`SELECT 1 FROM invoice_items WHERE invoice_id = $1`, [id]);
    expect(rowCount).toBe(0);
  });

  it('zeroes totals when items are truncated', async () => {
    const scratch = await createTestDatabase();
    try {
      const { rows } = await scratch.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('T-trunc') RETURNING id`);
      await scratch.sql.query(
        `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 2)`,
        [rows[0].id],
      );
      await scratch.sql.query(`TRUNCATE invoice_items`);
      const after = await scratch.sql.query(`SELECT total_amount FROM invoices`);
      expect(after.rows).toEqual([{ total_amount: '0' }]);
    } finally {
      await scratch.drop();
    }
  });

  it('overwrites a hand-written item total', async () => {
    const id = await invoice('T-hand-item');
    const { rows } = await sql.query(
      `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit, total_amount)
       VALUES ($1, 2, 10, 999999) RETURNING id, total_amount`,
      [id],
    );
    expect(rows[0].total_amount).toBe('20');
    await sql.query(`UPDATE invoice_items SET total_amount = 1 WHERE id = $1`, [rows[0].id]);
    const after = await sql.query(`SELECT total_amount FROM invoice_items WHERE id = $1`, [rows[0].id]);
    expect(after.rows[0].total_amount).toBe('20');
    expect(await total(id)).toBe(20);
  });

  it('overwrites a hand-written invoice total, on insert and on update', async () => {
    const { rows } = await sql.query(
      `INSERT INTO invoices (invoice_no, total_amount) VALUES ('T-hand-invoice', 5000) RETURNING id, total_amount`,
    );
    expect(rows[0].total_amount).toBe('0');
    const id = rows[0].id;
    await item(id, 1, 42);
    await sql.query(`UPDATE invoices SET total_amount = 1, invoice_no = 'T-hand-invoice-2' WHERE id = $1`, [id]);
    expect(await total(id)).toBe(42);
    // The setting the trigger uses internally does not open a door for a client.
    await sql.query(`SET rowcast.applying_item_totals = 'off'`);
    await sql.query(`UPDATE invoices SET total_amount = 7 WHERE id = $1`, [id]);
    expect(await total(id)).toBe(42);
    await sql.query(`RESET rowcast.applying_item_totals`);
  });

  it('refuses a NULL, zero or negative quantity and a negative unit price', async () => {
    const id = await invoice('T-bad-values');
    const insert = (quantity: number | null, amount: number | null) =>
      sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, $2, $3)`, [
        id,
        quantity,
        amount,
      ]);
    await expect(insert(null, 1)).rejects.toMatchObject({ code: '23502', column: 'quantity' });
    await expect(insert(0, 1)).rejects.toMatchObject({ code: '23514', constraint: 'invoice_items_quantity_check' });
    await expect(insert(-1, 1)).rejects.toMatchObject({ code: '23514' });
    await expect(insert(1, -1)).rejects.toMatchObject({
      code: '23514',
      constraint: 'invoice_items_amount_per_unit_check',
    });
    await expect(insert(1, null)).rejects.toMatchObject({ code: '23502' });
    expect(await total(id)).toBe(0);
  });

  it('refuses an item total or an invoice total above 2^53 - 1, leaving totals as they were', async () => {
    const id = await invoice('T-overflow');
    await expect(item(id, 2147483647, 2147483647)).rejects.toMatchObject({
      code: '23514',
      constraint: 'invoice_items_total_amount_range',
    });
    // Each item fits, and so do two of them; a third does not.
    const big = 2147483647 * 2097152; // 2^52 − 2^21
    await item(id, 2097152, 2147483647);
    await item(id, 2097152, 2147483647);
    expect(2 * big).toBeLessThan(MAX_TOTAL_AMOUNT);
    await expect(item(id, 2097152, 2147483647)).rejects.toMatchObject({
      code: '23514',
      constraint: 'invoices_total_amount_range',
    });
    expect(await total(id)).toBe(2 * big);
    await consistent();
  });

  it('keeps one invoice right under many concurrent writers', async () => {
    const id = await invoice('T-concurrent');
    const other = await invoice('T-concurrent-other');
    const writers = 16;
    const rounds = 25;
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        const client = await sql.connect();
        try {
          for (let round = 0; round < rounds; round++) {
            await client.query('BEGIN');
            const { rows } = await client.query(
              `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, $2, 3) RETURNING id`,
              [id, writer + 1],
            );
            if (round % 5 === 0) {
              await client.query(`UPDATE invoice_items SET quantity = quantity + 1 WHERE id = $1`, [rows[0].id]);
            }
            if (round % 7 === 0) {
              await client.query(`UPDATE invoice_items SET invoice_id = $1 WHERE id = $2`, [other, rows[0].id]);
            }
            if (round % 11 === 0) await client.query(`DELETE FROM invoice_items WHERE id = $1`, [rows[0].id]);
            await client.query(round % 13 === 0 ? 'ROLLBACK' : 'COMMIT');
          }
        } finally {
          client.release();
        }
      }),
    );
    const { rows } = await sql.query(
      `SELECT coalesce(sum(total_amount), 0) AS sum, count(*) AS n FROM invoice_items WHERE invoice_id IN ($1, $2)`,
      [id, other],
    );
    expect(Number(rows[0].n)).toBeGreaterThan(writers * rounds / 2);
    expect((await total(id)) + (await total(other))).toBe(Number(rows[0].sum));
    await consistent();
  });

  it('moves items both ways between two invoices at once without deadlock', async () => {
    const a = await invoice('T-swap-a');
    const b = await invoice('T-swap-b');
    await sql.query(
      `INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit)
       SELECT CASE WHEN g % 2 = 0 THEN $1::uuid ELSE $2::uuid END, 1, g FROM generate_series(1, 40) g`,
      [a, b],
    );
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        sql.query(
          `UPDATE invoice_items SET invoice_id = CASE WHEN invoice_id = $1 THEN $2::uuid ELSE $1::uuid END
           WHERE invoice_id IN ($1, $2) AND amount_per_unit % 8 = $3`,
          [a, b, i],
        ),
      ),
    );
    expect((await total(a)) + (await total(b))).toBe((40 * 41) / 2);
    await consistent();
  });
});
