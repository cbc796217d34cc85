import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildDataSourceOptions } from '../../src/database/data-source.options.js';
import { migrations } from '../../src/database/migrations.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** Everything in the public schema but the migrations bookkeeping table. */
async function schemaObjects(sql: pg.Pool): Promise<string[]> {
  const { rows } = await sql.query<{ object: string }>(`
    SELECT 'table ' || tablename AS object FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'migrations'
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public'
    UNION ALL
    SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
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
    expect(migrated).toEqual(expect.arrayContaining(['table invoices', 'table invoice_items', 'trigger invoices_keep_total']));

    for (let i = 0; i < migrations.length; i++) await dataSource.undoLastMigration();
    expect(await schemaObjects(db.sql)).toEqual([]);

    await dataSource.runMigrations();
    expect(await schemaObjects(db.sql)).toEqual(migrated);
  });

  it('leaves nothing for migration:generate to add (entities match the migrations)', async () => {
    const sqlInMemory = await dataSource.driver.createSchemaBuilder().log();
    const statements = sqlInMemory.upQueries.map((query) => query.query);
    expect(statements).toEqual([]);
  });
});
