import { Parser } from '@asyncapi/parser';
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { connectClient } from '../support/socket.js';

const name = (n: number) => `c${n}`;
/** Subscribe requests the protocol allows, and ones it does not; the server must agree with the document on each. */
const VALID: object[] = [
  {},
  { events: ['invoices.created'] },
  { events: ['invoices.*', 'invoice_items.deleted'] },
  { tables: ['invoices'] },
  { tables: ['public.invoices', 'invoice_items'] },
  { where: { quantity: 3, invoice_no: 'x', paid: true, note: null } },
  { where: {} },
  { since: '0' },
  { events: ['invoices.*'], tables: ['invoices'], where: { id: 'a' }, since: '0' },
  // Valid names that name a known table (an unknown one is refused as a typo, apart from the syntax).
  { events: Array.from({ length: 50 }, (_, i) => `invoice${i % 2 ? 's' : '_items'}.${['created', 'updated', 'deleted'][i % 3]}`) },
  { where: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [name(i), i])) },
];
const INVALID: object[] = [
  { since: null },
  { events: null },
  { tables: null },
  { where: null },
  { events: [] },
  { tables: [] },
  { events: 'invoices.created' },
  { events: ['*.created'] },
  { events: ['invoices.'] },
  { events: [3] },
  { events: ['x'.repeat(201)] },
  { events: Array.from({ length: 51 }, (_, i) => `e${i}`) },
  { tables: ['a.b.c'] },
  { tables: ['1table'] },
  { where: ['x'] },
  { where: { a: { b: 1 } } },
  { where: { a: [1] } },
  { where: { 'bad column': 1 } },
  { where: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [name(i), i])) },
  { since: 7 },
  { since: 'abc' },
  { since: '1234567890123456789' },
  { unknown: 1 },
];

describe('AsyncAPI document of the WebSocket protocol', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('is served at /docs/asyncapi.yaml, linked from the OpenAPI page, and valid AsyncAPI 3', async () => {
    const res = await t.http.get('/docs/asyncapi.yaml').buffer(true).parse((response, done) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk));
      response.on('end', () => done(null, text));
    }).expect(200);
    expect(res.headers['content-type']).toContain('yaml');
    const { document, diagnostics } = await new Parser().parse(res.body as string);
    expect(diagnostics.filter((d) => d.severity === 0)).toEqual([]);
    expect(document!.version()).toMatch(/^3\./);
    expect(document!.channels().all().map((channel) => channel.address())).toEqual(['/events']);
    expect(document!.operations().all().map((operation) => operation.id()).sort()).toEqual(
      ['receiveCheckpoint', 'receiveErrorNotice', 'receiveException', 'receiveNotification', 'receiveSubscriptionEnded', 'subscribe', 'unsubscribe'],
    );
    const { body: openapi } = await t.http.get('/docs-json').expect(200);
    expect(openapi.info.description).toContain('/docs/asyncapi.yaml');
  });

  it('is exactly as strict as the server: on a corpus of subscribe requests, the schema and the server agree', async () => {
    const yaml = readFileSync(path.resolve(import.meta.dirname, '../../docs/asyncapi.yaml'), 'utf8');
    const { document } = await new Parser().parse(yaml);
    const schema = document!.components().schemas().get('SubscribeRequest')!.json();
    const validate = new Ajv({ strict: false }).compile(schema);
    const app = await createTestApp({ listen: true, db: t.db });
    const client = await connectClient(app.url);
    try {
      const disagreements: string[] = [];
      for (const [request, expected] of [...VALID.map((r) => [r, true] as const), ...INVALID.map((r) => [r, false] as const)]) {
        const byDocument = validate(request);
        const ack = await client.subscribe(request);
        if (ack.ok) await client.unsubscribe({ subscriptionId: ack.subscriptionId });
        if (byDocument !== expected || ack.ok !== expected || (!ack.ok && ack.error?.code !== 'INVALID_REQUEST')) {
          disagreements.push(`${JSON.stringify(request).slice(0, 80)}: document ${byDocument}, server ${JSON.stringify(ack).slice(0, 120)}`);
        }
      }
      expect(disagreements).toEqual([]);
    } finally {
      client.close();
      await app.close();
    }
  });

  it('describes the notification messages the server sends: each valid by the document, naming its subscriptions', async () => {
    const yaml = readFileSync(path.resolve(import.meta.dirname, '../../docs/asyncapi.yaml'), 'utf8');
    const { document } = await new Parser().parse(yaml);
    const validate = new Ajv({ strict: false }).compile(document!.components().schemas().get('NotificationMessage')!.json());
    const app = await createTestApp({ listen: true, db: t.db });
    const client = await connectClient(app.url);
    try {
      const all = await client.subscribe({});
      const invoices = await client.subscribe({ tables: ['invoices'] });
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('ASYNCAPI-1')`);
      const [message] = await client.waitFor(1);
      expect(validate(message), JSON.stringify(validate.errors)).toBe(true);
      expect([...message.subscriptionIds].sort()).toEqual([all.subscriptionId, invoices.subscriptionId].sort());
      expect(validate({ ...message, subscriptionIds: undefined })).toBe(false);
    } finally {
      client.close();
      await app.close();
    }
  });
});
