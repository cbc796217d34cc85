import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CaptureWatch } from '../../src/capture/capture-watch.js';
import { loadConfig } from '../../src/config/config.js';
import { buildDataSourceOptions } from '../../src/database/data-source.options.js';
import { createTestDatabase, TestDatabase } from '../support/database.js';

/** The watch on capture's triggers: what it reports, and that it says so once per change, not at every check. */
describe('CaptureWatch', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let watch: CaptureWatch;
  const said: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = new DataSource(buildDataSourceOptions({ url: db.url, poolSize: 2 }));
    await dataSource.initialize();
    watch = new CaptureWatch(loadConfig({ DATABASE_URL: db.url }), dataSource);
    const logger = (watch as unknown as { logger: { warn: (m: string) => void; log: (m: string) => void } }).logger;
    vi.spyOn(logger, 'warn').mockImplementation((message: string) => void said.push(`warn: ${message}`));
    vi.spyOn(logger, 'log').mockImplementation((message: string) => void said.push(`log: ${message}`));
  });
  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('reports nothing, and says nothing, while every captured table is armed', async () => {
    await watch.check();
    expect(watch.problems).toEqual([]);
    expect(said).toEqual([]);
  });

  it('names a trigger dropped by hand, once however many checks see it, and says when it is armed again', async () => {
    await db.sql.query(`DROP TRIGGER capture_delete ON invoice_items`);
    await watch.check();
    await watch.check();
    expect(watch.problems).toEqual([{ table: 'invoice_items', problem: 'its delete trigger is missing' }]);
    await db.sql.query(`ALTER TABLE invoices DISABLE TRIGGER capture_update`);
    await watch.check();
    await db.sql.query(`SELECT capture.enable('invoice_items'), capture.enable('invoices')`);
    await watch.check();
    await watch.check();
    expect(watch.problems).toEqual([]);
    expect(said).toEqual([
      'warn: capture is not what it should be: invoice_items: its delete trigger is missing (re-arm a table with npm run capture -- enable <table>)',
      'warn: capture is not what it should be: invoice_items: its delete trigger is missing; invoices: its update trigger is disabled (re-arm a table with npm run capture -- enable <table>)',
      'log: capture is armed again on every captured table',
    ]);
  });

  it('names event triggers that are missing: schema changes would not be followed', async () => {
    await db.sql.query(`ALTER EVENT TRIGGER capture_forget_dropped DISABLE`);
    try {
      await watch.check();
      expect(watch.problems).toEqual([
        { table: null, problem: 'the event trigger capture_forget_dropped is disabled: schema changes of captured tables are not followed' },
      ]);
    } finally {
      await db.sql.query(`ALTER EVENT TRIGGER capture_forget_dropped ENABLE`);
    }
  });
});
