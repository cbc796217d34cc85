import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildDataSourceOptions } from '../../src/database/data-source.options.js';
import { migrations } from '../../src/database/migrations.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** Every object the migrations can create: schemas, tables, views, sequences, functions, triggers, event triggers (indexes go with their tables). */
async function schemaObjects(sql: pg.Pool): Promise<string[]> {
  const { rows } = await sql.query<{ object: string }>(`
    WITH ours AS (SELECT oid, nspname FROM pg_namespace
                  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp%'
                    AND nspname NOT LIKE 'pg_toast_temp%')
    SELECT 'schema ' || nspname AS object FROM ours WHERE nspname <> 'public'
    UNION ALL
    SELECT c.relkind::text || ' ' || n.nspname || '.' || c.relname FROM pg_class c JOIN ours n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'v', 'S') AND c.relname NOT IN ('migrations', 'migrations_id_seq')
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure FROM pg_proc p JOIN ours n ON n.oid = p.pronamespace
    UNION ALL
    SELECT 'trigger ' || tgname || ' on ' || tgrelid::regclass FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT 'event trigger ' || evtname FROM pg_event_trigger
    ORDER BY 1`);
  return rows.map((row) => row.object);
}

describe('migrations', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase({ template: 'template0' });
    dataSource = new DataSource(buildDataSourceOptions({ url: db.url, poolSize: 2 }));
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('never synchronizes the schema from entities', () => {
    expect(buildDataSourceOptions({ url: inject('adminUrl') })).toMatchObject({ synchronize: false, migrationsRun: false });
  });

  it('runs up, reverts down to an empty schema, and runs up again', async () => {
    expect(await schemaObjects(db.sql)).toEqual([]);
    const applied = await dataSource.runMigrations();
    expect(applied.map((m) => m.name)).toEqual(migrations.map((m) => new m().name));
    const migrated = await schemaObjects(db.sql);
    expect(migrated).toEqual(
      expect.arrayContaining([
        'r public.invoices',
        'r public.invoice_items',
        'v public.notifications',
        'r public.notification_batches',
        'r public.notifications_legacy',
        'r capture.changes',
        'r capture.drain_cursor',
        'schema capture',
        'trigger invoices_keep_total on invoices',
        'trigger capture_insert on invoice_items',
        'trigger capture_update on invoice_items',
        'trigger capture_delete on invoice_items',
        'trigger capture_truncate on invoice_items',
        'trigger capture_truncate on invoices',
        'event trigger capture_follow_schema',
        'event trigger capture_forget_dropped',
      ]),
    );

    for (let i = 0; i < migrations.length; i++) await dataSource.undoLastMigration();
    expect(await schemaObjects(db.sql)).toEqual([]);

    await dataSource.runMigrations();
    expect(await schemaObjects(db.sql)).toEqual(migrated);
  });

  it('leaves nothing for migration:generate to add (entities match the migrations)', async () => {
    await dataSource.runMigrations(); // whatever the test before left
    const sqlInMemory = await dataSource.driver.createSchemaBuilder().log();
    const statements = sqlInMemory.upQueries.map((query) => query.query);
    expect(statements).toEqual([]);
  });
});
