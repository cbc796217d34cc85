import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseModule } from '../../src/database/database.module.js';
import { clientSql } from '../../src/database/sql.js';
import { StoredNotification } from '../../src/events/event-catalog.js';
import { CoalesceSource, readCoalesced } from '../../src/log/coalesce.js';
import { NotificationLog } from '../../src/log/notification-log.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

type Row = Record<string, unknown>;

/**
 * `coalesce: 'transaction'` over the real log: changes written by the capture triggers, drained by
 * the drainer's own statement in batches of 7 rows, so transactions run across batches.
 */
describe('coalesced reads of the log', () => {
  let db: TestDatabase;
  let log: NotificationLog;
  let close: () => Promise<void>;
  let source: CoalesceSource;

  /** Drains the journal into the log, 7 rows a batch. */
  async function drain(): Promise<void> {
    while ((await append()) > 0);
  }

  /** One batch of at most 7 rows, by the drainer's statement; the rows taken. */
  async function append(): Promise<number> {
    const client = await db.sql.connect();
    try {
      return (await log.append(clientSql(client), { rows: 7, bytes: 1 << 30 })).taken;
    } finally {
      client.release();
    }
  }

  /** Every coalesced notification after `after`, page by page as a consumer resumes from `through`. */
  async function readAll(after: bigint, part?: number): Promise<StoredNotification[]> {
    const found: StoredNotification[] = [];
    for (;;) {
      const page = await readCoalesced(source, after, part);
      found.push(...page.notifications);
      if (page.through === after) return found;
      after = page.through;
    }
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({ imports: [DatabaseModule.forRoot(db.url, 2)], providers: [NotificationLog] }).compile();
    await moduleRef.init();
    log = moduleRef.get(NotificationLog);
    source = { readAfter: (after, limit) => log.readAfter(after, limit), transactionOf: (id) => log.transactionOf(id) };
    close = () => moduleRef.close();
    await db.sql.query(`CREATE TABLE things (id int PRIMARY KEY, v int NOT NULL)`);
    await db.sql.query(`SELECT capture.enable('things')`);
  });
  afterAll(async () => {
    await close();
    await db.drop();
  });

  it('gives an invoice created with items once, with its total, before its items', async () => {
    const start = await log.lastId();
    const client = await db.sql.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query(`INSERT INTO invoices (invoice_no) VALUES ('CO-1') RETURNING id`);
      await client.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 5), ($1, 1, 3)`, [rows[0].id]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await drain();
    const raw = await log.readAfter(start, 100);
    expect(raw.map((n) => n.event)).toEqual(['invoices.created', 'invoice_items.created', 'invoice_items.created', 'invoices.updated']);

    const coalesced = await readAll(start);

    expect(coalesced.map((n) => [n.id, n.event])).toEqual([
      [raw[0].id, 'invoices.created'],
      [raw[1].id, 'invoice_items.created'],
      [raw[2].id, 'invoice_items.created'],
    ]);
    expect(Number(coalesced[0].payload.new?.total_amount)).toBe(13);
    expect(coalesced[0].payload.old).toBeNull();
    expect(coalesced[0].coalesced).toEqual([raw[0].id, raw[3].id]);
    expect(coalesced[1].coalesced).toBeUndefined();
    // Resumed from inside the transaction: only what begins after the position.
    expect((await readAll(BigInt(raw[1].id))).map((n) => n.id)).toEqual([raw[2].id]);
    expect(await readAll(BigInt(raw[2].id))).toEqual([]);
  });

  it('holds a transaction back until the journal has no more of it', async () => {
    await db.sql.query(`INSERT INTO things SELECT g, 0 FROM generate_series(1, 10) g`);
    await db.sql.query(`DELETE FROM things`);
    await drain();
    const start = await log.lastId();
    await db.sql.query(`INSERT INTO things SELECT g, g FROM generate_series(1, 10) g`);
    await append(); // 7 of its 10 rows are in the log

    const early = await readCoalesced(source, start);
    expect(early).toEqual({ notifications: [], through: start });
    await drain();
    const done = await readCoalesced(source, start);
    expect(done.notifications.map((n) => n.payload.new?.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(done.through).toBe(start + 10n);
    await db.sql.query(`DELETE FROM things`);
    await drain();
  });

  it('gives each row of each transaction once, its net change from the state before it, and resumes anywhere', async () => {
    const start = await log.lastId();
    // Transactions of random changes: inserts, updates (some of the key), deletes, a TRUNCATE now and then.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const client = await db.sql.connect();
    try {
      for (let t = 0; t < 80; t++) {
        await client.query('BEGIN');
        for (let s = 0, n = 1 + random(12); s < n; s++) {
          const id = random(6);
          const choice = random(20);
          if (choice === 0) await client.query(`TRUNCATE things`);
          else if (choice < 7) await client.query(`INSERT INTO things VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v`, [id, random(100)]);
          else if (choice < 12) await client.query(`UPDATE things SET v = v + 1 WHERE id = $1`, [id]);
          else if (choice < 15) await client.query(`UPDATE things SET id = $2 WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM things WHERE id = $2)`, [id, 6 + random(6)]);
          else await client.query(`DELETE FROM things WHERE id = $1`, [id]);
        }
        await client.query('COMMIT');
      }
    } finally {
      client.release();
    }
    await drain();
    const end = await log.lastId();
    const table = new Map((await db.sql.query(`SELECT id, v FROM things`)).rows.map((row) => [String(row.id), row as Row]));
    const full = (await readAll(start)).filter((n) => n.tableName === 'things');

    // A replica applying the net changes in order: each one's `old` is the replica's row, and it ends as the table.
    const replica = new Map<string, Row>();
    // Once per row: each row as it was before the transaction at most once (`old`), each as at commit at most once (`new`).
    const seen = new Set<string>();
    for (const n of full) {
      const { op, pk, old } = n.payload;
      if (op === 'TRUNCATE') {
        replica.clear();
        seen.clear();
        continue;
      }
      const key = String(pk!.id);
      for (const [side, row] of [['old', old], ['new', n.payload.new]] as const) {
        if (!row) continue;
        const once = `${n.payload.txId}/${side}/${String(row.id)}`;
        expect(seen.has(once), `row ${String(row.id)} twice as ${side} in transaction ${n.payload.txId}`).toBe(false);
        seen.add(once);
      }
      if (op === 'INSERT') expect(replica.has(key), `created ${key} (notification ${n.id}) was there`).toBe(false);
      else expect(replica.get(String(old!.id)), `old of ${n.id}`).toEqual(old);
      if (old) replica.delete(String(old.id));
      if (n.payload.new) replica.set(key, n.payload.new);
    }
    expect(replica).toEqual(table);
    expect(full.filter((n) => n.coalesced).length).toBeGreaterThan(10);

    // From every position, the net changes that begin after it: the same ones.
    for (let position = start; position <= end; position++) {
      expect((await readAll(position)).filter((n) => n.tableName === 'things').map((n) => n.id), `from ${position}`).toEqual(
        full.filter((n) => BigInt(n.id) > position).map((n) => n.id),
      );
    }
    // In parts of 5 ids, likewise (a row may then be in two parts of a transaction).
    const parted = await readAll(start, 5);
    for (let position = start; position <= end; position += 3n) {
      expect((await readAll(position, 5)).map((n) => n.id), `parts from ${position}`).toEqual(parted.filter((n) => BigInt(n.id) > position).map((n) => n.id));
    }
  });
});
