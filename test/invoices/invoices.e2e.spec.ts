import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';

const MISSING = '6f1c2f4e-0000-4000-8000-000000000000';

describe('invoices over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const create = (body: object) => t.http.post('/invoices').send(body);

  function expectError(res: { status: number; body: unknown }, status: number, ...fragments: string[]): void {
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ statusCode: status, error: expect.any(String), message: expect.any(String) });
    const { message } = res.body as { message: string };
    for (const fragment of fragments) expect(message).toContain(fragment);
    expect(message).not.toMatch(/SELECT|INSERT|UPDATE|violates|QueryFailed|\bat \w+ \(/);
  }

  describe('POST /invoices', () => {
    it('creates an invoice with items and totals', async () => {
      const res = await create({
        invoiceNo: '  INV-1  ',
        items: [
          { quantity: 2, amountPerUnit: 150 },
          { quantity: 1, amountPerUnit: 5 },
        ],
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ invoiceNo: 'INV-1', totalAmount: 305 });
      expect(res.body.items).toMatchObject([
        { quantity: 2, amountPerUnit: 150, totalAmount: 300, invoiceId: res.body.id },
        { quantity: 1, amountPerUnit: 5, totalAmount: 5, invoiceId: res.body.id },
      ]);
      expect(Object.keys(res.body).sort()).toEqual(['createdAt', 'id', 'invoiceNo', 'items', 'totalAmount', 'updatedAt']);
    });

    it('creates an invoice without items', async () => {
      const res = await create({ invoiceNo: 'INV-empty' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ totalAmount: 0, items: [] });
    });

    it('refuses a duplicate invoiceNo with 409', async () => {
      await create({ invoiceNo: 'INV-dup' }).expect(201);
      expectError(await create({ invoiceNo: 'INV-dup' }), 409, 'invoiceNo', 'INV-dup');
    });

    it.each([
      [{}, 'invoiceNo'],
      [{ invoiceNo: '' }, 'invoiceNo should not be empty'],
      [{ invoiceNo: '   ' }, 'invoiceNo should not be empty'],
      [{ invoiceNo: 42 }, 'invoiceNo must be a string'],
      [{ invoiceNo: 'x'.repeat(65) }, 'invoiceNo must be shorter than or equal to 64'],
      [{ invoiceNo: 'a\u0000b' }, 'invoiceNo must not contain control characters'],
      [{ invoiceNo: 'a\uD800b' }, 'invoiceNo must not contain control characters or invalid Unicode'],
      [{ invoiceNo: 'ok', extra: 1 }, 'property extra should not exist'],
      [{ invoiceNo: 'ok', totalAmount: 5 }, 'property totalAmount should not exist'],
      [{ invoiceNo: 'ok', items: 'x' }, 'items must be an array'],
      [{ invoiceNo: 'ok', items: [{ quantity: 0, amountPerUnit: 1 }] }, 'items.0.quantity must not be less than 1'],
      [{ invoiceNo: 'ok', items: [{ quantity: 1.5, amountPerUnit: 1 }] }, 'items.0.quantity must be an integer'],
      [{ invoiceNo: 'ok', items: [{ quantity: '2', amountPerUnit: 1 }] }, 'items.0.quantity must be an integer'],
      [{ invoiceNo: 'ok', items: [{ quantity: 1, amountPerUnit: -1 }] }, 'items.0.amountPerUnit must not be less than 0'],
      [{ invoiceNo: 'ok', items: [{ quantity: 1 }] }, 'items.0.amountPerUnit'],
      [{ invoiceNo: 'ok', items: [{ quantity: 2 ** 31, amountPerUnit: 1 }] }, 'items.0.quantity must not be greater'],
      [{ invoiceNo: 'ok', items: [{ quantity: 1, amountPerUnit: 1, id: 'x' }] }, 'items.0.property id should not exist'],
    ])('refuses %j with 400 naming the field', async (body, fragment) => {
      expectError(await create(body), 400, fragment);
    });

    it('refuses __proto__ in a body as it refuses any other unknown field, at any depth', async () => {
      const send = (text: string) => t.http.post('/invoices').set('content-type', 'application/json').send(text);
      expectError(await send('{"invoiceNo":"PROTO-1","__proto__":{"x":1}}'), 400, 'property __proto__ should not exist');
      expectError(await send('{"invoiceNo":"PROTO-2","items":[{"quantity":1,"amountPerUnit":1,"__proto__":{}}]}'), 400, 'property items.0.__proto__ should not exist');
      await t.http.get('/invoices').expect(200);
    });

    it('refuses a query parameter given twice as such', async () => {
      expectError(await t.http.get('/invoices?limit=1&limit=2'), 400, 'query parameter limit is given more than once');
      expectError(await t.http.get('/notifications?event=invoices.created&event=invoices.updated'), 400, 'query parameter event is given more than once');
    });

    it('refuses a body that is not a JSON object', async () => {
      expectError(await t.http.post('/invoices').set('content-type', 'application/json').send('{bad'), 400);
      expectError(await t.http.post('/invoices').send([1, 2]), 400, 'body must be a JSON object');
      for (const scalar of ['null', '"text"', '1', 'true']) {
        const response = await t.http.post('/invoices').set('content-type', 'application/json').send(scalar);
        expectError(response, 400, 'body must be a JSON object');
        expect(response.body.message, scalar).toBe('body must be a JSON object');
      }
      expectError(await t.http.post('/invoices').set('content-type', 'text/plain').send('hello'), 415, 'application/json');
    });

    it('refuses a body over the limit with 413', async () => {
      expectError(await create({ invoiceNo: 'x'.repeat(2_000_000) }), 413, 'too large');
    });

    it('refuses totals above 2^53 - 1 with 422 and writes nothing', async () => {
      const res = await create({
        invoiceNo: 'INV-huge',
        items: [{ quantity: 2147483647, amountPerUnit: 2147483647 }],
      });
      expectError(res, 422, 'totalAmount');
      const list = await t.db.sql.query(`SELECT 1 FROM invoices WHERE invoice_no = 'INV-huge'`);
      expect(list.rowCount).toBe(0);
    });
  });

  describe('GET /invoices', () => {
    it('pages through every invoice once, newest first', async () => {
      for (let i = 0; i < 7; i++) await create({ invoiceNo: `PAGE-${i}` }).expect(201);
      const { rows } = await t.db.sql.query(`SELECT id FROM invoices ORDER BY created_at DESC, id DESC`);
      const seen: string[] = [];
      let cursor: string | null | undefined;
      do {
        const res = await t.http.get('/invoices').query({ limit: 3, ...(cursor ? { cursor } : {}) }).expect(200);
        expect(res.body.data.length).toBeLessThanOrEqual(3);
        seen.push(...res.body.data.map((invoice: { id: string }) => invoice.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(rows.map((row) => row.id));
    });

    it('includes items in list entries', async () => {
      await create({ invoiceNo: 'LIST-items', items: [{ quantity: 1, amountPerUnit: 9 }] }).expect(201);
      const res = await t.http.get('/invoices').query({ limit: 1 }).expect(200);
      expect(res.body.data[0]).toMatchObject({ invoiceNo: 'LIST-items', totalAmount: 9, items: [{ totalAmount: 9 }] });
    });

    it('finds invoices by the start of their number, in any case, newest first and paged, taking % and _ literally', async () => {
      for (const invoiceNo of ['FIND-A1', 'find-a2', 'FIND-A3', 'FIND-B1', 'FIND%X', 'FINDxX', 'X-FIND-A9']) await create({ invoiceNo }).expect(201);
      const numbers = async (invoiceNo: string, limit = 100) => {
        const found: string[] = [];
        let cursor: string | null | undefined;
        do {
          const res = await t.http.get('/invoices').query({ invoiceNo, limit, ...(cursor ? { cursor } : {}) }).expect(200);
          expect(res.body.data.length).toBeLessThanOrEqual(limit);
          found.push(...res.body.data.map((invoice: { invoiceNo: string }) => invoice.invoiceNo));
          cursor = res.body.nextCursor;
        } while (cursor);
        return found;
      };
      expect(await numbers('find-a', 2)).toEqual(['FIND-A3', 'find-a2', 'FIND-A1']);
      expect(await numbers('FIND%')).toEqual(['FIND%X']);
      expect(await numbers('find_')).toEqual([]);
      expect(await numbers('  find-b ')).toEqual(['FIND-B1']);
      expect(await numbers('nothing')).toEqual([]);
      const { body: doc } = await t.http.get('/docs-json').expect(200);
      expect(doc.paths['/invoices'].get.parameters).toContainEqual(
        expect.objectContaining({ name: 'invoiceNo', in: 'query', required: false, schema: expect.objectContaining({ type: 'string', maxLength: 64 }) }),
      );
    });

    it('finds invoices by number through an index, whatever the database collation', async () => {
      const client = await t.db.sql.connect();
      try {
        await client.query('BEGIN');
        // As on a large table, where a sequential scan would cost more than the index.
        await client.query('SET LOCAL enable_seqscan = off');
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) SELECT id FROM invoices WHERE lower(invoice_no) LIKE lower($1)`, ['find-a%']);
        expect(JSON.stringify(rows[0]['QUERY PLAN'])).toContain('invoices_invoice_no_prefix_idx');
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    });

    it.each([
      [{ limit: 0 }, 'limit must not be less than 1'],
      [{ limit: 101 }, 'limit must not be greater than 100'],
      [{ limit: 'abc' }, 'limit must be an integer'],
      [{ cursor: 'not-a-cursor!' }, 'cursor'],
      [{ cursor: Buffer.from('[1]').toString('base64url') }, 'cursor'],
      [{ cursor: Buffer.from('["x","y"]').toString('base64url') }, 'cursor'],
      [{ cursor: Buffer.from(`[-1,"${MISSING}"]`).toString('base64url') }, 'cursor'],
      [{ sort: 'name' }, 'property sort should not exist'],
      [{ invoiceNo: '' }, 'invoiceNo should not be empty'],
      [{ invoiceNo: 'x'.repeat(65) }, 'invoiceNo must be shorter than or equal to 64 characters'],
      [{ invoiceNo: 'a\u0001' }, 'invoiceNo must not contain control characters'],
    ])('refuses %j with 400', async (query, fragment) => {
      expectError(await t.http.get('/invoices').query(query), 400, fragment);
    });
  });

  describe('GET, PATCH, DELETE /invoices/:id', () => {
    it('gets one invoice with its items', async () => {
      const created = await create({ invoiceNo: 'ONE', items: [{ quantity: 3, amountPerUnit: 3 }] });
      const res = await t.http.get(`/invoices/${created.body.id}`).expect(200);
      expect(res.body).toEqual(created.body);
    });

    it('answers 404 for a missing invoice and 400 for an id that is not a UUID', async () => {
      expectError(await t.http.get(`/invoices/${MISSING}`), 404, MISSING);
      expectError(await t.http.get('/invoices/123'), 400, 'id must be a UUID');
      expectError(await t.http.get("/invoices/' OR 1=1 --"), 400, 'id must be a UUID');
    });

    it('renames an invoice, refusing a taken number with 409', async () => {
      const a = await create({ invoiceNo: 'REN-A' });
      await create({ invoiceNo: 'REN-B' }).expect(201);
      const res = await t.http.patch(`/invoices/${a.body.id}`).send({ invoiceNo: 'REN-C' }).expect(200);
      expect(res.body).toMatchObject({ id: a.body.id, invoiceNo: 'REN-C' });
      expectError(await t.http.patch(`/invoices/${a.body.id}`).send({ invoiceNo: 'REN-B' }), 409, 'REN-B');
      expectError(await t.http.patch(`/invoices/${a.body.id}`).send({ totalAmount: 1 }), 400, 'totalAmount');
      expectError(await t.http.patch(`/invoices/${MISSING}`).send({ invoiceNo: 'REN-D' }), 404);
    });

    it('deletes an invoice with its items', async () => {
      const created = await create({ invoiceNo: 'DEL', items: [{ quantity: 1, amountPerUnit: 1 }] });
      await t.http.delete(`/invoices/${created.body.id}`).expect(204);
      await t.http.get(`/invoices/${created.body.id}`).expect(404);
      const items = await t.db.sql.query(`SELECT 1 FROM invoice_items WHERE invoice_id = $1`, [created.body.id]);
      expect(items.rowCount).toBe(0);
      expectError(await t.http.delete(`/invoices/${created.body.id}`), 404);
    });
  });

  describe('items', () => {
    it('adds, changes and removes items, keeping the invoice total', async () => {
      const invoice = (await create({ invoiceNo: 'ITEMS' })).body;
      const added = await t.http.post(`/invoices/${invoice.id}/items`).send({ quantity: 2, amountPerUnit: 100 });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({ invoiceId: invoice.id, quantity: 2, amountPerUnit: 100, totalAmount: 200 });

      const changed = await t.http
        .patch(`/invoices/${invoice.id}/items/${added.body.id}`)
        .send({ quantity: 5 })
        .expect(200);
      expect(changed.body).toMatchObject({ quantity: 5, totalAmount: 500 });
      expect((await t.http.get(`/invoices/${invoice.id}`)).body.totalAmount).toBe(500);

      await t.http.delete(`/invoices/${invoice.id}/items/${added.body.id}`).expect(204);
      expect((await t.http.get(`/invoices/${invoice.id}`)).body).toMatchObject({ totalAmount: 0, items: [] });
    });

    it('moves an item to another invoice with invoiceId', async () => {
      const from = (await create({ invoiceNo: 'MOVE-FROM', items: [{ quantity: 1, amountPerUnit: 70 }] })).body;
      const to = (await create({ invoiceNo: 'MOVE-TO' })).body;
      const res = await t.http
        .patch(`/invoices/${from.id}/items/${from.items[0].id}`)
        .send({ invoiceId: to.id })
        .expect(200);
      expect(res.body.invoiceId).toBe(to.id);
      expect((await t.http.get(`/invoices/${from.id}`)).body.totalAmount).toBe(0);
      expect((await t.http.get(`/invoices/${to.id}`)).body.totalAmount).toBe(70);
      // The item now lives under its new invoice only.
      expectError(await t.http.delete(`/invoices/${from.id}/items/${from.items[0].id}`), 404);
    });

    it('answers 404 for a missing invoice or item, 422 for a missing target invoice', async () => {
      const invoice = (await create({ invoiceNo: 'ITEM-404', items: [{ quantity: 1, amountPerUnit: 1 }] })).body;
      const item = invoice.items[0].id;
      expectError(await t.http.post(`/invoices/${MISSING}/items`).send({ quantity: 1, amountPerUnit: 1 }), 404);
      expectError(await t.http.patch(`/invoices/${invoice.id}/items/${MISSING}`).send({ quantity: 2 }), 404);
      expectError(await t.http.patch(`/invoices/${MISSING}/items/${item}`).send({ quantity: 2 }), 404);
      expectError(
        await t.http.patch(`/invoices/${invoice.id}/items/${item}`).send({ invoiceId: MISSING }),
        422,
        'invoiceId',
      );
      expectError(await t.http.delete(`/invoices/${invoice.id}/items/${MISSING}`), 404);
    });

    it.each([
      [{}, 'at least one of'],
      [{ quantity: 0 }, 'quantity must not be less than 1'],
      [{ quantity: null }, 'quantity'],
      [{ amountPerUnit: 'ten' }, 'amountPerUnit must be an integer'],
      [{ invoiceId: 'nope' }, 'invoiceId must be a UUID'],
      [{ totalAmount: 3 }, 'property totalAmount should not exist'],
    ])('refuses item change %j with 400', async (body, fragment) => {
      const invoice = (await create({ invoiceNo: `ITEM-BAD-${Math.random()}`, items: [{ quantity: 1, amountPerUnit: 1 }] }))
        .body;
      expectError(await t.http.patch(`/invoices/${invoice.id}/items/${invoice.items[0].id}`).send(body), 400, fragment);
    });

    it('refuses an item whose total would overflow the invoice with 422', async () => {
      const invoice = (await create({ invoiceNo: 'ITEM-BIG', items: [{ quantity: 2097152, amountPerUnit: 2147483647 }] })).body;
      await t.http.post(`/invoices/${invoice.id}/items`).send({ quantity: 2097152, amountPerUnit: 2147483647 }).expect(201);
      const res = await t.http.post(`/invoices/${invoice.id}/items`).send({ quantity: 2097152, amountPerUnit: 2147483647 });
      expectError(res, 422, 'totalAmount');
      expect((await t.http.get(`/invoices/${invoice.id}`)).body.items).toHaveLength(2);
    });

    it('refuses bad path ids with 400 naming the parameter', async () => {
      expectError(await t.http.post('/invoices/x/items').send({ quantity: 1, amountPerUnit: 1 }), 400, 'id must be a UUID');
      expectError(await t.http.delete(`/invoices/${MISSING}/items/x`), 400, 'itemId must be a UUID');
    });
  });
});
