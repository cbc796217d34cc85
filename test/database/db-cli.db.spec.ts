import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { runDatabase } from '../../src/database/db.cli.js';

/** `npm run db`: the embedded database alone, so that writes can be made while no app runs. */
describe('npm run db', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the embedded PostgreSQL migrated, prints its URL, captures writes with no app, and stops', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rowcast-db-cli-'));
    const dataDir = path.join(dir, 'postgres');
    const lines: string[] = [];
    const stop = await runDatabase({ EMBEDDED_PG_DIR: dataDir }, (line) => lines.push(line));
    try {
      const url = lines.map((line) => /psql (\S+)/.exec(line)?.[1]).find(Boolean);
      expect(url).toMatch(/^postgresql:\/\/.+@127\.0\.0\.1:\d+\/rowcast$/);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`INSERT INTO invoices (invoice_no) VALUES ('WHILE-DOWN')`);
        const { rows } = await client.query(`SELECT count(*)::int AS n FROM capture.changes WHERE new->>'invoice_no' = 'WHILE-DOWN'`);
        expect(rows[0].n).toBe(1); // in the journal, waiting for the app
      } finally {
        await client.end();
      }
    } finally {
      await stop();
    }
    expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
  }, 120_000);

  it('refuses to run when DATABASE_URL names another server', async () => {
    await expect(runDatabase({ DATABASE_URL: 'postgres://u@127.0.0.1:1/x' }, () => {})).rejects.toThrow(/DATABASE_URL is set/);
  });
});
