import { execFile } from 'node:child_process';
import { lstat, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';

const run = promisify(execFile);
const client = path.resolve(import.meta.dirname, '../../client');

/** A consumer that follows invoices with the library and prints the first notification's event. */
const CONSUMER = `
import { RowcastClient } from '@rowcast/client';
const rowcast = new RowcastClient({ url: process.argv[2] });
const timer = setTimeout(() => { console.error('no notification'); process.exit(1); }, 20000);
rowcast.subscribe({ tables: ['invoices'] }, (n) => {
  console.log(n.event);
  clearTimeout(timer);
  rowcast.close();
}, { onStatus: (status) => status === 'live' && console.error('live') });
`;

/**
 * The README's way to install the client library into a project of one's own, in a folder outside
 * the repository, which is then moved: the install must not point back into the checkout.
 */
describe('the client library installed as the README says', () => {
  let t: TestApp;
  let folder: string;
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    folder = await mkdtemp(path.join(os.tmpdir(), 'rowcast-consumer-'));
  });
  afterAll(async () => {
    await t.close();
    await rm(folder, { recursive: true, force: true });
    await rm(`${folder}-moved`, { recursive: true, force: true });
  });

  it('is a copy, not a link into the checkout, and works from wherever the project goes', async () => {
    await writeFile(path.join(folder, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await writeFile(path.join(folder, 'follow.js'), CONSUMER);
    // As the README says; --prefer-offline: socket.io-client is in npm's cache after the project's own install.
    await run('npm', ['install', '--install-links', '--prefer-offline', '--no-audit', '--no-fund', client], { cwd: folder });
    expect((await lstat(path.join(folder, 'node_modules', '@rowcast', 'client'))).isSymbolicLink()).toBe(false);

    const moved = `${folder}-moved`;
    await rename(folder, moved);
    const consumer = run('node', ['follow.js', t.url], { cwd: moved });
    // Written once the consumer is live (its stderr says so), so that the change is one it hears.
    const child = consumer.child;
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('live') && resolve());
      child.once('exit', () => reject(new Error('the consumer exited before it was live')));
    });
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('CONSUMER-1')`);
    const { stdout } = await consumer;
    expect(stdout.trim()).toBe('invoices.created');
  }, 60_000);
});
