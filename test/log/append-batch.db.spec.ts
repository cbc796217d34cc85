import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSql } from '../../src/database/sql.js';
import { NOTIFICATIONS_CHANNEL } from '../../src/log/channels.js';
import { appendBatch } from '../../src/log/sql/append-batch.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** The drainer's statement on its own (capture.take_batch and the append): no app. */
describe('appendBatch (capture.take_batch)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('takes every row of a transaction larger than a batch when a malformed row sits in its first batch', async () => {
    // One transaction of 150 journal rows; the 5th has an array for its row, which no trigger writes.
    await db.sql.query(
      `INSERT INTO capture.changes (schema_name, table_name, op, row_pk, new, actor)
       SELECT 'public', 'orders', 'INSERT', jsonb_build_object('id', g), CASE WHEN g = 5 THEN '[]'::jsonb ELSE jsonb_build_object('id', g) END, 'fill'
       FROM generate_series(1, 150) g`,
    );
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    client.on('notice', () => undefined);
    const taken: number[] = [];
    try {
      for (let batch; (batch = await appendBatch(clientSql(client), { rows: 100, bytes: 1 << 30 }, NOTIFICATIONS_CHANNEL)).length; ) {
        taken.push(...batch.filter((row) => row.table_name === 'orders').map((row) => Number((row.row_pk as { id: number }).id)));
        if (taken.length > 1_000) throw new Error('the drain does not end');
      }
    } finally {
      await client.end();
    }
    expect(taken).toEqual(Array.from({ length: 150 }, (_, i) => i + 1).filter((id) => id !== 5));
    const { rows } = await db.sql.query(`SELECT capture.backlog()::int AS backlog, count(*)::int AS malformed FROM capture.changes WHERE jsonb_typeof(new) = 'array'`);
    expect(rows[0]).toEqual({ backlog: 0, malformed: 0 });
  });
});
