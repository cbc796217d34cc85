import { readFileSync } from 'node:fs';
import path from 'node:path';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationMessage } from '../../client/src/protocol.js';
import { SubscriptionsService } from '../../src/realtime/subscriptions.service.js';
import { createTestApp, TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

/**
 * The README's Socket.IO example, run as written (its placeholders filled in): a client written from
 * the published contract alone. It resumes two subscriptions with different positions on one
 * connection, is dropped by the server, and must end with exactly the log's notifications for each.
 */
function readmeExample(): string {
  const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The protocol (any Socket.IO client)'));
  const code = section.slice(section.indexOf('```js\n') + 6, section.indexOf('\n```', section.indexOf('```js\n')));
  const handled = '/* name, m.event, m.payload.new, m.payload.old … */';
  if (!code.includes(handled) || !code.includes("'…'")) throw new Error('the README example changed: update this test');
  return code
    .replace("import { io } from 'socket.io-client';", '')
    .replace("'http://localhost:3000/events'", 'url')
    .replace("'…'", 'invoiceId')
    .replace(handled, 'handled(name, m);');
}

describe('the README’s protocol example', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ listen: true });
  });
  afterAll(() => t.close());

  it('gets every notification of each subscription once, in order, across a drop by the server', async () => {
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('README-1') RETURNING id`);
    const invoiceId: string = rows[0].id;
    const write = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 1)`, [invoiceId]);
        await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ($1)`, [`README-${Date.now()}-${i}`]);
      }
    };
    const since = (await t.db.sql.query(`SELECT coalesce(max(n.id), 0)::text AS id FROM notifications n`)).rows[0].id as string;
    await write(30);
    const handled: Record<string, string[]> = { items: [], invoices: [] };
    const run = new Function('io', 'url', 'invoiceId', 'process', 'handled', `${readmeExample()}\nreturn { socket, lastId };`);
    // Resuming `invoices` from an early point, `items` from now: different positions on one connection.
    const { socket, lastId } = run(io, `${t.url}/events`, invoiceId, { env: {} }, (name: string, m: NotificationMessage) => handled[name].push(m.id)) as {
      socket: ReturnType<typeof io>;
      lastId: Record<string, string>;
    };
    // Before it connects (the next turn at the earliest): a position stored by an earlier run.
    lastId.invoices = since;
    try {
      await waitFor(() => handled.invoices.length > 0, { what: 'the first invoices' });
      await write(20);
      // The server drops it (as a slow reader): the example reconnects and resumes each from its own lastId.
      t.app.get(SubscriptionsService).disconnectAll({ code: 'SLOW_CONSUMER', message: 'by the test' });
      await write(20);
      await waitFor(
        async () => (await t.db.sql.query(`SELECT (SELECT count(*) FROM capture.changes) = (SELECT count(*) FROM notifications) AS done`)).rows[0].done,
        { what: 'the writes to be in the log' },
      );
      const ids = async (where: string) =>
        (await t.db.sql.query(`SELECT n.id::text AS id FROM notifications n WHERE ${where} ORDER BY n.id`, [invoiceId])).rows.map((r) => r.id);
      const expectedInvoices = await ids(`table_name = 'invoices' AND n.id > ${since} AND $1::text IS NOT NULL`);
      const itemsFrom = handled.items[0];
      await waitFor(
        async () => handled.invoices.length >= expectedInvoices.length && handled.items.at(-1) === (await ids(`event LIKE 'invoice_items.%' AND payload->'new'->>'invoice_id' = $1`)).at(-1),
        { timeout: 20_000, what: 'both subscriptions to catch up' },
      );
      expect(handled.invoices).toEqual(expectedInvoices);
      const items = await ids(`event LIKE 'invoice_items.%' AND payload->'new'->>'invoice_id' = $1`);
      expect(handled.items).toEqual(items.slice(items.indexOf(itemsFrom)));
    } finally {
      socket.close();
    }
  }, 60_000);
});
