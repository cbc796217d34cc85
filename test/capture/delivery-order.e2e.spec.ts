import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogDrainer } from '../../src/log/log-drainer.js';
import { createTestApp, TestApp } from '../support/app.js';
import { notifications, waitForNotifications } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

/** Changes made by plain SQL reach the notification log in commit order, with nothing skipped. */
describe('capture to notifications: content and commit order', () => {
  let t: TestApp;
  let sql: pg.Pool;
  beforeAll(async () => {
    t = await createTestApp();
    sql = t.db.sql;
  });
  afterAll(() => t.close());

  async function session(): Promise<pg.PoolClient> {
    return sql.connect();
  }
  async function newInvoice(no: string): Promise<string> {
    const { rows } = await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1) RETURNING id`, [no]);
    return rows[0].id;
  }
  const forEntity = (id: string) => ({ where: 'entity_id = $1', values: [id] });
  /** The drainer has run `n` more drain transactions than now: it looked, and found what it found. */
  async function drainRounds(n: number): Promise<void> {
    const listener = t.app.get(LogDrainer);
    const start = listener.getStatus().rounds;
    await waitFor(() => listener.getStatus().rounds >= start + n, { what: `${n} drain rounds` });
  }

  it('turns direct SQL on invoices and items into notifications with event, payload, changed columns and actor', async () => {
    const client = await session();
    let invoiceId: string;
    try {
      await client.query('BEGIN');
      await client.query(`SELECT set_config('rowcast.actor', 'alice', true)`);
      invoiceId = (await client.query(`INSERT INTO invoices (invoice_no) VALUES ('N-1') RETURNING id`)).rows[0].id;
      await client.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 3, 7)`, [invoiceId]);
      await client.query('COMMIT');
    } finally {
      client.release(true); // never back to the pool with a transaction open
    }
    await sql.query(`UPDATE invoice_items SET quantity = 4 WHERE invoice_id = $1`, [invoiceId]);
    const all = await waitForNotifications(sql, 5, {
      where: `payload->'pk'->>'id' = $1 OR payload->'new'->>'invoice_id' = $1`,
      values: [invoiceId],
    });
    expect(all.map((n) => n.event)).toEqual([
      'invoices.created',
      'invoice_items.created',
      'invoices.updated',
      'invoice_items.updated',
      'invoices.updated',
    ]);
    expect(all[0].payload).toMatchObject({
      schema: 'public',
      table: 'invoices',
      op: 'INSERT',
      pk: { id: invoiceId },
      old: null,
      new: { invoice_no: 'N-1', total_amount: 0 },
      actor: 'alice',
      txId: expect.stringMatching(/^\d+$/),
    });
    expect(all[0].payload.txId).toBe(all[1].payload.txId);
    expect(all[3].payload).toMatchObject({
      changedColumns: ['quantity', 'total_amount', 'updated_at'],
      old: { quantity: 3, total_amount: 21 },
      new: { quantity: 4, total_amount: 28 },
      actor: expect.not.stringMatching(/^alice$/),
    });
    expect(all[4].payload.new).toMatchObject({ total_amount: 28 });
    expect(all[4].entity_id).toBe(invoiceId);
    // The SQL view (capture.payload) and the service (notification.mapper) build the same payload.
    for (const n of all) {
      const { body } = await t.http.get(`/notifications/${n.id}`).expect(200);
      expect(body).toMatchObject({ id: n.id, event: n.event, payload: n.payload });
      expect(Object.keys(body.payload).sort()).toEqual(Object.keys(n.payload).sort());
    }
  });

  it('captures a table enabled at run time, in another schema too, with deletions', async () => {
    await sql.query(`CREATE SCHEMA sales`);
    await sql.query(`CREATE TABLE sales.orders (id int PRIMARY KEY, status text)`);
    await sql.query(`SELECT capture.enable('sales.orders')`);
    await sql.query(`INSERT INTO sales.orders VALUES (1, 'new')`);
    await sql.query(`UPDATE sales.orders SET status = 'paid'`);
    await sql.query(`DELETE FROM sales.orders`);
    const all = await waitForNotifications(sql, 3, { where: `table_name = 'sales.orders'` });
    expect(all.map((n) => n.event)).toEqual(['sales.orders.created', 'sales.orders.updated', 'sales.orders.deleted']);
    expect(all[2].payload).toMatchObject({ op: 'DELETE', new: null, old: { id: 1, status: 'paid' }, pk: { id: 1 } });
    expect(all.map((n) => n.entity_id)).toEqual(['1', '1', '1']);
  });

  it('delivers a transaction with lower ids that commits later after the one that committed first', async () => {
    const [first, second] = [await session(), await session()];
    try {
      await first.query('BEGIN');
      await first.query(`INSERT INTO invoices (invoice_no) VALUES ('OOO-low-id')`); // lower journal id
      await second.query('BEGIN');
      await second.query(`INSERT INTO invoices (invoice_no) VALUES ('OOO-high-id')`);
      await second.query('COMMIT'); // commits first, and is drained while the first is open
      await waitForNotifications(sql, 1, { where: `payload->'new'->>'invoice_no' LIKE 'OOO-%'` });
      await first.query('COMMIT');
    } finally {
      first.release(true); // never back to the pool with a transaction open
      second.release(true); // never back to the pool with a transaction open
    }
    const delivered = await waitForNotifications(sql, 2, { where: `payload->'new'->>'invoice_no' LIKE 'OOO-%'` });
    expect(delivered.map((n) => n.payload.new!.invoice_no)).toEqual(['OOO-high-id', 'OOO-low-id']);
    expect(Number(delivered[0].change_id)).toBeGreaterThan(Number(delivered[1].change_id));
  });

  /**
   * T1 writes first (taking the lower xid); T2 updates row R and commits; T1 then updates R and
   * commits. `betweenWrites` runs in T1 after its first write. Returns R's notifications.
   */
  async function lastCommitterScenario(label: string, betweenWrites?: (t1: pg.PoolClient) => Promise<unknown>) {
    const r = await newInvoice(`${label}-0`);
    await waitForNotifications(sql, 1, forEntity(r));
    const [t1, t2] = [await session(), await session()];
    try {
      await t1.query('BEGIN');
      await t1.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`${label}-t1-other`]);
      await betweenWrites?.(t1);
      await t2.query('BEGIN');
      await t2.query(`UPDATE invoices SET invoice_no = $2 WHERE id = $1`, [r, `${label}-by-t2`]);
      await t2.query('COMMIT');
      await t1.query(`UPDATE invoices SET invoice_no = $2 WHERE id = $1`, [r, `${label}-by-t1`]);
      await t1.query('COMMIT');
    } finally {
      t1.release(true); // never back to the pool with a transaction open
      t2.release(true); // never back to the pool with a transaction open
    }
    return { r, forR: await waitForNotifications(sql, 3, forEntity(r)) };
  }

  it('ends a row on the values of the transaction that committed last, though it began first', async () => {
    const { r, forR } = await lastCommitterScenario('R');
    expect(forR.map((n) => n.payload.new!.invoice_no)).toEqual(['R-0', 'R-by-t2', 'R-by-t1']);
    const { rows } = await sql.query(`SELECT invoice_no FROM invoices WHERE id = $1`, [r]);
    expect(forR.at(-1)!.payload.new!.invoice_no).toBe(rows[0].invoice_no);
  });

  it('keeps that order while an unrelated transaction with an xid between the two stays open, without waiting for it', async () => {
    const r = await newInvoice('W-0');
    await waitForNotifications(sql, 1, forEntity(r));
    const [t1, t3, t2] = [await session(), await session(), await session()];
    try {
      await t1.query('BEGIN');
      await t1.query(`INSERT INTO invoices (invoice_no) VALUES ('W-t1-other')`); // lowest xid
      await t3.query('BEGIN');
      await t3.query(`INSERT INTO invoices (invoice_no) VALUES ('W-t3-open')`); // stays open, middle xid
      await t2.query('BEGIN');
      await t2.query(`UPDATE invoices SET invoice_no = 'W-by-t2' WHERE id = $1`, [r]); // highest xid
      await t2.query('COMMIT');
      await t1.query(`UPDATE invoices SET invoice_no = 'W-by-t1' WHERE id = $1`, [r]);
      await t1.query('COMMIT'); // must not overtake T2, and need not wait for T3
      const forR = await waitForNotifications(sql, 3, forEntity(r));
      expect(forR.map((n) => n.payload.new!.invoice_no)).toEqual(['W-0', 'W-by-t2', 'W-by-t1']);
      expect(await notifications(sql, `payload->'new'->>'invoice_no' = 'W-t3-open'`)).toEqual([]);
      await t3.query('COMMIT');
    } finally {
      t1.release(true); // never back to the pool with a transaction open
      t2.release(true); // never back to the pool with a transaction open
      t3.release(true); // never back to the pool with a transaction open
    }
    const [opened] = await waitForNotifications(sql, 1, { where: `payload->'new'->>'invoice_no' = 'W-t3-open'` });
    const [byT1] = await notifications(sql, `payload->'new'->>'invoice_no' = 'W-by-t1'`);
    expect(BigInt(opened.id)).toBeGreaterThan(BigInt(byT1.id));
  });

  it('numbers a transaction after its last captured write, even after SET CONSTRAINTS ALL IMMEDIATE', async () => {
    // SET CONSTRAINTS ALL IMMEDIATE fires the numbering trigger early, before T1's conflicting write.
    const { forR } = await lastCommitterScenario('SC', (t1) => t1.query('SET CONSTRAINTS ALL IMMEDIATE'));
    expect(forR.map((n) => n.payload.new!.invoice_no)).toEqual(['SC-0', 'SC-by-t2', 'SC-by-t1']);
  });

  it('delivers later transactions while a long one stays open, and the long one once it commits', async () => {
    const open = await session();
    try {
      await open.query('BEGIN');
      await open.query(`INSERT INTO invoices (invoice_no) VALUES ('L-open')`);
      for (let i = 0; i < 5; i++) await sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`L-later-${i}`]);
      await waitForNotifications(sql, 5, { where: `payload->'new'->>'invoice_no' LIKE 'L-later-%'` });
      await drainRounds(3);
      expect(await notifications(sql, `payload->'new'->>'invoice_no' = 'L-open'`)).toEqual([]);
      await open.query('COMMIT');
    } finally {
      open.release(true); // never back to the pool with a transaction open
    }
    const all = await waitForNotifications(sql, 6, { where: `payload->'new'->>'invoice_no' LIKE 'L-%'` });
    expect(all.map((n) => n.payload.new!.invoice_no)).toEqual([
      'L-later-0',
      'L-later-1',
      'L-later-2',
      'L-later-3',
      'L-later-4',
      'L-open',
    ]);
  });

  it('delivers a row over 8,000 bytes whole', async () => {
    await sql.query(`CREATE TABLE documents (id int PRIMARY KEY, body text)`);
    await sql.query(`SELECT capture.enable('documents')`);
    const body = 'é'.repeat(60_000);
    await sql.query(`INSERT INTO documents VALUES (1, $1)`, [body]);
    const [delivered] = await waitForNotifications(sql, 1, { where: `table_name = 'documents'` });
    expect(delivered.payload.new!.body).toBe(body);
    const res = await t.http.get(`/notifications/${delivered.id}`).expect(200);
    expect(res.body.payload.new.body).toBe(body);
  });

  it('skips a malformed journal row with a reason and goes on', async () => {
    await sql.query(
      `INSERT INTO capture.changes (schema_name, table_name, op, row_pk, old, new, actor)
       VALUES ('public', 'ghost', 'INSERT', '{"id": 1}', NULL, NULL, 'mallory')`,
    );
    await sql.query(`INSERT INTO invoices (invoice_no) VALUES ('after-malformed')`);
    await waitForNotifications(sql, 1, { where: `payload->'new'->>'invoice_no' = 'after-malformed'` });
    expect(await notifications(sql, `table_name = 'ghost'`)).toEqual([]);
    const { rows } = await sql.query(`SELECT capture.backlog()::int AS backlog, (SELECT count(*)::int FROM capture.changes WHERE table_name = 'ghost') AS ghosts`);
    expect(rows[0]).toEqual({ backlog: 0, ghosts: 0 });
  });
});
