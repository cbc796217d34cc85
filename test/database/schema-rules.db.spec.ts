import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_NAME, SCOPES } from '../../src/auth/api-key.js';
import { BACKFILL_STATES } from '../../src/backfills/backfill.js';
import { OPERATIONS } from '../../client/src/protocol.js';
import { WAKE_UP_CHANNEL } from '../../src/log/channels.js';
import { MAX_TOTAL_AMOUNT } from '../../src/invoices/total-amount.js';
import { EXHAUSTED_ACTIONS, SINK_KINDS, SINK_NAME, SINK_STATES } from '../../src/sinks/sink.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';
import { waitFor } from '../support/wait.js';

/**
 * Shipped migrations keep the literals they were written with (they are history), while the app's
 * rules live in one constant each: the migrated schema must agree with those constants.
 */
describe('the migrated schema agrees with the code', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it("accepts exactly the code's API key scopes", async () => {
    const insertKey = (name: string, scopes: string[]) =>
      db.sql.query(`INSERT INTO api_keys (name, scopes, secret_hash) VALUES ($1, $2, $3)`, [name, scopes, Buffer.alloc(32)]);
    for (const [i, scope] of SCOPES.entries()) await insertKey(`scope-${i}`, [scope]);
    await insertKey('every-scope', [...SCOPES]);
    await expect(insertKey('unknown-scope', ['invoices:delete'])).rejects.toMatchObject({ code: '23514', constraint: 'api_keys_scopes_check' });
  });

  it("accepts a key's or a sink's name exactly when the code does", async () => {
    const names = ['a', 'Z9', 'a'.repeat(64), 'a'.repeat(65), 'x.y_z-1', 'ops@example', '', '-x', '.x', 'x y', 'x/y', 'ü', 'x\n'];
    const accepted = async (insert: () => Promise<unknown>) => insert().then(
      () => true,
      (error: { code?: string }) => {
        if (error.code !== '23514') throw error;
        return false;
      },
    );
    for (const [i, name] of names.entries()) {
      const key = () => db.sql.query(`INSERT INTO api_keys (name, scopes, secret_hash) VALUES ($1, '{admin}', $2)`, [name, Buffer.alloc(32, i)]);
      expect(await accepted(key), `key ${JSON.stringify(name)}`).toBe(KEY_NAME.test(name));
      const sink = () => db.sql.query(`INSERT INTO sinks (kind, name, filter, config, secrets, position) VALUES ('webhook', $1, '{}', '{}', '{}', 0)`, [name]);
      expect(await accepted(sink), `sink ${JSON.stringify(name)}`).toBe(SINK_NAME.test(name));
    }
  });

  it("accepts exactly the code's sink kinds, states and actions on exhaustion", async () => {
    const insertSink = (name: string, column: 'kind' | 'state' | 'on_exhausted', value: string) => {
      const row = { kind: 'webhook', state: 'active', on_exhausted: 'dead-letter', [column]: value };
      return db.sql.query(`INSERT INTO sinks (name, filter, config, secrets, position, kind, state, on_exhausted) VALUES ($1, '{}', '{}', '{}', 0, $2, $3, $4)`, [
        name,
        row.kind,
        row.state,
        row.on_exhausted,
      ]);
    };
    const lists = { kind: SINK_KINDS, state: SINK_STATES, on_exhausted: EXHAUSTED_ACTIONS } as const;
    for (const [column, values] of Object.entries(lists) as [keyof typeof lists, readonly string[]][]) {
      for (const value of values) await insertSink(`${column}-${value}`, column, value);
      await expect(insertSink(`${column}-unknown`, column, 'unknown')).rejects.toMatchObject({ code: '23514' });
    }
  });

  it("accepts exactly the code's backfill states and journal ops", async () => {
    const { rows: [constraints] } = await db.sql.query(
      `SELECT (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'capture.backfills'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%state%') AS states,
              (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'changes_op_check') AS ops`,
    );
    const listed = (definition: string) => [...definition.matchAll(/'([A-Z_a-z]+)'::text/g)].map((match) => match[1]).sort();
    expect(listed(constraints.states)).toEqual([...BACKFILL_STATES].sort());
    expect(listed(constraints.ops)).toEqual([...OPERATIONS].sort());
  });

  it('bounds every total at MAX_TOTAL_AMOUNT', async () => {
    const client = await db.sql.connect();
    try {
      await client.query('BEGIN');
      // The triggers compute totals (a written one is overwritten); with them off, the CHECKs alone decide.
      await client.query(`SET LOCAL session_replication_role = replica`);
      const {
        rows: [invoice],
      } = await client.query(`INSERT INTO invoices (invoice_no, total_amount) VALUES ('MAX', $1) RETURNING id`, [MAX_TOTAL_AMOUNT]);
      await client.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit, total_amount) VALUES ($1, 1, 0, $2)`, [
        invoice.id,
        MAX_TOTAL_AMOUNT,
      ]);
      const above = (BigInt(MAX_TOTAL_AMOUNT) + 1n).toString();
      await client.query('SAVEPOINT above');
      await expect(client.query(`UPDATE invoices SET total_amount = $1`, [above])).rejects.toMatchObject({
        constraint: 'invoices_total_amount_range',
      });
      await client.query('ROLLBACK TO SAVEPOINT above');
      await expect(client.query(`UPDATE invoice_items SET total_amount = $1`, [above])).rejects.toMatchObject({
        constraint: 'invoice_items_total_amount_range',
      });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('wakes the drainer on the channel it listens on', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    try {
      const channels: string[] = [];
      listener.on('notification', (message) => channels.push(message.channel));
      await listener.query(`LISTEN ${pg.escapeIdentifier(WAKE_UP_CHANNEL)}`);
      await db.sql.query(`UPDATE capture.wakeup SET listening = true WHERE id = 1`);
      await db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('WAKE')`);
      await waitFor(() => channels.includes(WAKE_UP_CHANNEL), { what: `a NOTIFY on ${WAKE_UP_CHANNEL}` });
    } finally {
      await listener.end();
    }
  });
});
