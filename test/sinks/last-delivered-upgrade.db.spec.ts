import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataSourceOptions } from '../../src/database/data-source.options.js';
import { migrations } from '../../src/database/migrations.js';
import { runMigrations } from '../../src/database/run-migrations.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** The migrations before sinks said what they delivered last. */
const BEFORE = migrations.slice(0, migrations.findIndex((m) => m.name === 'SinkLastDelivered1764810000000'));

describe('upgrading sinks to say what they delivered last', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ template: 'template0' });
  });
  afterAll(() => db.drop());

  it('takes the last delivered from the attempts kept, and leaves a sink without any at null', async () => {
    const old = new DataSource({ ...buildDataSourceOptions({ url: db.url, poolSize: 1 }), migrations: BEFORE, logging: false });
    await old.initialize();
    await old.runMigrations({ transaction: 'each' });
    await old.destroy();
    const { rows } = await db.sql.query(
      `INSERT INTO sinks (kind, name, config, position) VALUES ('webhook', 'hook', '{}', 12), ('rabbitmq', 'broker', '{}', 12) RETURNING id`,
    );
    const [hook] = rows.map((row) => row.id as string);
    // Delivered 10, then 11; then failed on 12 (after 11, in the order attempts were made).
    await db.sql.query(
      `INSERT INTO sink_deliveries (sink_id, notification_id, at, latency_ms, delivered, detail) VALUES
         ($1, 10, '2026-01-01T00:00:00Z', 5, true, ''), ($1, 11, '2026-01-01T00:00:01Z', 5, true, ''),
         ($1, 12, '2026-01-01T00:00:02Z', 5, false, 'HTTP 500')`,
      [hook],
    );

    expect(await runMigrations(db.url)).toEqual(migrations.slice(BEFORE.length).map((migration) => migration.name));
    const { rows: after } = await db.sql.query(`SELECT name, last_delivered_id::text, last_delivered_at FROM sinks ORDER BY name`);
    expect(after).toEqual([
      { name: 'broker', last_delivered_id: null, last_delivered_at: null },
      { name: 'hook', last_delivered_id: '11', last_delivered_at: new Date('2026-01-01T00:00:01Z') },
    ]);
  });
});
