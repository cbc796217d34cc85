import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { bearer, createKey, reloadKeys } from '../support/keys.js';
import { expectExactlyOnce } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';

/** Same seed, same requests: a failure names its seed and request so it can be replayed. */
const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 150);

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY_STRINGS = [
  '',
  ' ',
  'x'.repeat(100_000),
  "'; DROP TABLE invoices; --",
  "1' OR '1'='1",
  '1; SELECT pg_sleep(10)',
  '$1',
  '\\',
  '%',
  '_',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '../../etc/passwd',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF\uD800',
  '💥🧾 ünïcödé 发票',
  '\u202Eevil',
  'invoices.*',
  'invoices.%',
  '-1',
  '9'.repeat(40),
  '1e309',
  'NaN',
  'true',
  'null',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
  '__proto__',
];
const NASTY_NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 1e308, 0.5, -0, Number.MAX_SAFE_INTEGER, 999_999_999];

class Fuzzer {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = prng(seed);
  }
  pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.random() * values.length)];
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  /** Any JSON value, mostly nasty, sometimes nested. */
  value(depth = 0): unknown {
    switch (Math.floor(this.random() * 7)) {
      case 0:
      case 1:
        return this.pick(NASTY_STRINGS);
      case 2:
        return this.pick(NASTY_NUMBERS);
      case 3:
        return this.pick([true, false, null]);
      case 4:
        return depth > 2 ? [] : Array.from({ length: Math.floor(this.random() * 4) }, () => this.value(depth + 1));
      case 5:
        return depth > 2 ? {} : this.object(depth + 1);
      default:
        return Math.floor(this.random() * 1000);
    }
  }
  object(depth = 0): Record<string, unknown> {
    const keys = ['invoiceNo', 'items', 'quantity', 'amountPerUnit', 'invoiceId', 'constructor', this.pick(NASTY_STRINGS).slice(0, 30)];
    return Object.fromEntries(
      Array.from({ length: Math.floor(this.random() * 4) }, () => [this.pick(keys), this.value(depth)]),
    );
  }
  /** A body near the valid one: each field kept, dropped or replaced by something nasty. */
  near(valid: Record<string, unknown>): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(valid)) {
      if (this.chance(0.15)) continue;
      body[key] = this.chance(0.5) ? this.value() : value;
    }
    if (this.chance(0.2)) Object.assign(body, this.object());
    return body;
  }
  segment(valid: string): string {
    return this.chance(0.4) ? valid : percentEncoded(String(this.value())).slice(0, 2000) || '%20';
  }
  query(names: string[]): Record<string, string> {
    return Object.fromEntries(names.filter(() => this.chance(0.6)).map((name) => [name, String(this.value()).slice(0, 5000)]));
  }
}

/** For a URL or a header; a lone surrogate becomes bytes that are not UTF-8 at all (%ED%A0%80). */
function percentEncoded(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

/** Error bodies are ours: they must never carry a stack trace or the SQL (or driver) text behind them. */
const LEAKS = [/\bat .+:\d+:\d+/, /\bSELECT\b|\bINSERT\b|\bUPDATE\b.*\bSET\b|\bDELETE FROM\b/, /relation "|column "|syntax error|violates|duplicate key|QueryFailed|invalid input syntax|byte sequence/i, /node_modules|\/src\//];

describe('fuzzing every route', () => {
  let t: TestApp;
  let admin: string;
  const invoices: { id: string; items: string[] }[] = [];
  const stored = new Map<string, string>(); // id -> invoiceNo as a 2xx response returned it
  const failures: string[] = [];
  const hooks: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({ env: { RATE_LIMIT: '0' } });
    admin = await createKey(t.db, 'fuzzer', ['admin']);
    await reloadKeys(t);
    for (let i = 0; i < 5; i++) {
      const { body } = await t.http
        .post('/invoices')
        .set(bearer(admin))
        .send({ invoiceNo: `FUZZ-${i}`, items: [{ quantity: 2, amountPerUnit: 150 }, { quantity: 1, amountPerUnit: 99 }] })
        .expect(201);
      invoices.push({ id: body.id, items: body.items.map((item: { id: string }) => item.id) });
    }
  });
  afterAll(() => t.close());

  /** `sent`: what the request carried; a message may quote the caller's own input back. */
  async function check(
    label: string,
    sent: unknown,
    call: () => PromiseLike<{ status: number; text: string; body: unknown }>,
  ): Promise<void> {
    const response = await call();
    const echoed = JSON.stringify(sent) + label;
    const leak = LEAKS.map((pattern) => pattern.exec(response.text)?.[0]).find((match) => match && !echoed.includes(match));
    const problem = response.status >= 500 ? `status ${response.status}` : response.status >= 400 ? leak : undefined;
    if (problem) failures.push(`${label} ${JSON.stringify(sent).slice(0, 300)} → ${problem}: ${response.text.slice(0, 300)}`);
    const body = response.body as { id?: string; invoiceNo?: string } | undefined;
    if (response.status < 300 && body?.id && body.invoiceNo !== undefined) stored.set(body.id, body.invoiceNo);
  }

  it(`never answers 500, a stack trace or SQL text (seed ${SEED}, ${ROUNDS} rounds)`, async () => {
    const f = new Fuzzer(SEED);
    for (let round = 0; round < ROUNDS; round++) {
      const invoice = f.pick(invoices);
      const id = f.segment(invoice.id);
      const itemId = f.segment(f.pick(invoice.items));
      const auth = f.chance(0.9) ? bearer(admin) : { Authorization: `Bearer ${percentEncoded(String(f.value())).slice(0, 500)}` };
      const actor = f.chance(0.2) ? { 'X-Actor': percentEncoded(String(f.value())).slice(0, 300) } : {};
      const headers = { ...auth, ...actor };
      const tag = `round ${round}`;
      const invoiceBody = f.near({ invoiceNo: `F-${round}-${randomUUID().slice(0, 8)}`, items: [{ quantity: 1, amountPerUnit: 10 }] });
      const itemBody = f.near({ quantity: 3, amountPerUnit: 7, invoiceId: f.pick(invoices).id });

      await check(`${tag} POST /invoices`, invoiceBody, () =>
        t.http.post('/invoices').set(headers).send(invoiceBody),
      );
      const invoiceQuery = f.query(['limit', 'cursor']);
      await check(`${tag} GET /invoices`, invoiceQuery, () => t.http.get('/invoices').query(invoiceQuery).set(headers));
      await check(`${tag} GET /invoices/${id}`, headers, () => t.http.get(`/invoices/${id}`).set(headers));
      const patch = f.near({ invoiceNo: `P-${round}` });
      await check(`${tag} PATCH /invoices/${id}`, patch, () => t.http.patch(`/invoices/${id}`).set(headers).send(patch));
      await check(`${tag} POST /invoices/${id}/items`, itemBody, () =>
        t.http.post(`/invoices/${id}/items`).set(headers).send(itemBody),
      );
      await check(`${tag} PATCH /invoices/${id}/items/${itemId}`, itemBody, () =>
        t.http.patch(`/invoices/${id}/items/${itemId}`).set(headers).send(itemBody),
      );
      if (f.chance(0.1)) {
        await check(`${tag} DELETE /invoices/${id}/items/${itemId}`, headers, () => t.http.delete(`/invoices/${id}/items/${itemId}`).set(headers));
      }
      const notificationQuery = f.query(['event', 'table', 'entityId', 'after', 'limit']);
      await check(`${tag} GET /notifications`, notificationQuery, () => t.http.get('/notifications').query(notificationQuery).set(headers));
      const notificationId = f.segment('1');
      await check(`${tag} GET /notifications/${notificationId}`, headers, () => t.http.get(`/notifications/${notificationId}`).set(headers));
      await check(`${tag} GET /metrics`, headers, () => t.http.get('/metrics').set(headers));
      // Sinks: a public literal address (no DNS; deliveries time out in the background).
      const hookBody = f.near({ url: 'http://203.0.113.10/hook', events: ['invoices.*'], tables: ['invoices'], where: { invoice_no: 'x' }, from: 'now', onExhausted: 'pause' });
      await check(`${tag} POST /webhooks`, hookBody, async () => {
        const response = await t.http.post('/webhooks').set(headers).send(hookBody);
        if (response.status === 201) hooks.push(response.body.id);
        return response;
      });
      const sinkBody = f.near({ kind: f.pick(['nats', 'rabbitmq']), nats: { servers: ['nats://127.0.0.1:1'], subjectPrefix: 'fuzz', stream: 'FUZZ' }, rabbitmq: { url: 'amqp://u:p@127.0.0.1:1', exchange: 'fuzz' }, tables: ['invoices'] });
      await check(`${tag} POST /sinks`, sinkBody, () => t.http.post('/sinks').set(headers).send(sinkBody));
      const hook = f.segment(hooks.length ? f.pick(hooks) : randomUUID());
      const hookPatch = f.near({ paused: true, url: 'http://203.0.113.11/hook', events: ['invoice_items.*'], name: `h-${round}` });
      await check(`${tag} PATCH /webhooks/${hook}`, hookPatch, () => t.http.patch(`/webhooks/${hook}`).set(headers).send(hookPatch));
      const redeliver = f.near({ from: '0', notificationId: '1', deadLetters: true });
      await check(`${tag} POST /webhooks/${hook}/redeliver`, redeliver, () => t.http.post(`/webhooks/${hook}/redeliver`).set(headers).send(redeliver));
      const rotate = f.near({ overlapSeconds: 60 });
      await check(`${tag} POST /webhooks/${hook}/rotate-secret`, rotate, () => t.http.post(`/webhooks/${hook}/rotate-secret`).set(headers).send(rotate));
      const listQuery = f.query(['limit']);
      await check(`${tag} GET /webhooks/${hook}/deliveries`, listQuery, () => t.http.get(`/webhooks/${hook}/deliveries`).query(listQuery).set(headers));
      await check(`${tag} GET /sinks`, headers, () => t.http.get('/sinks').set(headers));
      // Bodies that are not what they claim: broken JSON, wrong types, a JSON array, deep nesting.
      const raw = f.pick(['{', '{"invoiceNo":', '[]', '"text"', '1', 'null', `${'['.repeat(5000)}${']'.repeat(5000)}`, '{"a":1,"a":2}']);
      await check(`${tag} raw ${raw.slice(0, 20)}`, raw, () =>
        t.http.post(`/invoices`).set(headers).set('Content-Type', f.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded'])).send(raw),
      );
      if (f.chance(0.05)) {
        await check(`${tag} DELETE /invoices/${id}`, headers, () => t.http.delete(`/invoices/${id}`).set(headers));
      }
    }
    expect(failures).toEqual([]);
  }, 180_000);

  it('leaves the data consistent: totals right, what was stored is what was returned, every change once', async () => {
    const { rows: wrongItems } = await t.db.sql.query(
      `SELECT id FROM invoice_items WHERE total_amount <> quantity::bigint * amount_per_unit`,
    );
    expect(wrongItems).toEqual([]);
    const { rows: wrongTotals } = await t.db.sql.query(`
      SELECT i.id, i.total_amount, coalesce(sum(it.total_amount), 0) AS items
      FROM invoices i LEFT JOIN invoice_items it ON it.invoice_id = i.id
      GROUP BY i.id HAVING i.total_amount <> coalesce(sum(it.total_amount), 0)`);
    expect(wrongTotals).toEqual([]);
    const { rows } = await t.db.sql.query(`SELECT id, invoice_no FROM invoices WHERE id = ANY($1)`, [[...stored.keys()]]);
    for (const row of rows) expect(row.invoice_no, row.id).toBe(stored.get(row.id));
    await waitFor(async () => {
      const counts = await expectExactlyOnce(t.db.sql);
      return counts.changes === counts.notifications;
    }, { timeout: 30_000, what: 'every change drained' });
    expect(await expectExactlyOnce(t.db.sql)).toMatchObject({ missing: 0, duplicates: 0 });
  });
});
