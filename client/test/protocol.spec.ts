import { Parser } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalTable as serverCanonicalTable, NotificationFilter as ServerFilter } from '../../src/events/notification-filter.js';
import { compileFilter } from '../src/filter.js';
import { ACK_ERROR_CODES, HANDSHAKE_ERROR_CODES, NOTICE_CODES, SERVER_EVENTS, SUBSCRIPTION_END_CODES, type Notification, type NotificationFilter } from '../src/index.js';

describe('the client protocol types', () => {
  it('have the error codes and server events of docs/asyncapi.yaml', async () => {
    const yaml = readFileSync(path.resolve(import.meta.dirname, '../../docs/asyncapi.yaml'), 'utf8');
    const { document } = await new Parser().parse(yaml);
    const spec = document!.json() as unknown as {
      info: { description: string };
      components: {
        messages: Record<string, { name: string; payload: { properties: { code: { enum: string[] } } } }>;
        schemas: { ErrorAck: { properties: { error: { properties: { code: { enum: string[] } } } } } };
      };
    };
    expect([...NOTICE_CODES].sort()).toEqual([...spec.components.messages.errorNotice.payload.properties.code.enum].sort());
    expect([...SUBSCRIPTION_END_CODES].sort()).toEqual([...spec.components.messages.subscriptionEnded.payload.properties.code.enum].sort());
    expect([...ACK_ERROR_CODES].sort()).toEqual([...spec.components.schemas.ErrorAck.properties.error.properties.code.enum].sort());
    for (const code of HANDSHAKE_ERROR_CODES) expect(spec.info.description).toContain(`\`${code}\``);
    const received = document!.operations().all().filter((operation) => operation.action() === 'receive');
    const names = received.flatMap((operation) => operation.messages().all().map((message) => message.name()));
    expect(names.sort()).toEqual(Object.values(SERVER_EVENTS).sort());
  });
});

const note = (event: string, schema: string, table: string, op: 'INSERT' | 'UPDATE' | 'DELETE' | 'READ', row: Record<string, unknown>): Notification => ({
  id: '1',
  event,
  createdAt: '2026-01-01T00:00:00.000Z',
  payload: {
    schema,
    table,
    op,
    pk: { id: row.id },
    new: op === 'DELETE' ? null : row,
    old: op === 'INSERT' || op === 'READ' ? null : row,
    changedColumns: null,
    actor: 'test',
    txId: '1',
    changedAt: '2026-01-01T00:00:00.000Z',
  },
});

const NOTIFICATIONS: Notification[] = [
  note('invoices.created', 'public', 'invoices', 'INSERT', { id: 'a', invoice_no: 'X-1', total_amount: 3 }),
  note('invoices.deleted', 'public', 'invoices', 'DELETE', { id: 'b', invoice_no: 'X-2', total_amount: '3' }),
  note('invoice_items.updated', 'public', 'invoice_items', 'UPDATE', { id: 'c', invoice_id: 'a', quantity: 3, note: null }),
  note('sales.orders.created', 'sales', 'orders', 'INSERT', { id: 'd', status: 'new', paid: false, meta: { x: 1 } }),
  note('invoices_archive.created', 'public', 'invoices_archive', 'INSERT', { id: 'e' }),
  note('invoices.read', 'public', 'invoices', 'READ', { id: 'f', invoice_no: 'X-3', total_amount: 3 }),
];

const FILTERS: NotificationFilter[] = [
  {},
  { events: ['invoices.created'] },
  { events: ['invoices.*'] },
  { events: ['sales.*'] },
  { events: ['sales.orders.*', 'invoice_items.updated'] },
  { tables: ['invoices'] },
  { tables: ['public.invoices'] },
  { tables: ['sales.orders', 'invoice_items'] },
  { where: { total_amount: 3 } },
  { where: { total_amount: '3' } },
  { where: { quantity: '3', invoice_id: 'a' } },
  { where: { note: null } },
  { where: { missing: null } },
  { where: { paid: false } },
  { where: { paid: 'false' } },
  { where: { meta: null } },
  { events: ['invoices.*'], tables: ['invoices'], where: { invoice_no: 'X-2' } },
  { events: ['invoices.read'] },
  { events: ['invoices.read', 'invoices.*'], where: { total_amount: 3 } },
];

describe('the client-side filter', () => {
  it("decides like the server's NotificationFilter on every pair of a corpus", () => {
    const disagreements: string[] = [];
    for (const filter of FILTERS) {
      // The server's DTO names tables canonically before its filter sees them.
      const server = new ServerFilter({ ...filter, tables: filter.tables?.map(serverCanonicalTable) });
      const client = compileFilter(filter);
      for (const notification of NOTIFICATIONS) {
        const { schema, table } = notification.payload;
        const stored = { ...notification, tableName: schema === 'public' ? table : `${schema}.${table}`, createdAt: new Date() };
        const expected = server.matches(stored);
        if (client(notification) !== expected) disagreements.push(`${JSON.stringify(filter)} on ${notification.event}: server ${expected}`);
      }
    }
    expect(disagreements).toEqual([]);
  });
});
