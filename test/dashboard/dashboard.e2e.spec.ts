import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { trackConnections } from '../support/connections.js';
import { createKey, reloadKeys } from '../support/keys.js';
import { waitForNotifications } from '../support/notifications.js';
import { waitFor } from '../support/wait.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The dashboard in a real headless Chromium (Debian's), driven by playwright-core. */
describe('dashboard page', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  /** Console messages about the Content-Security-Policy header: the page must need no exception. */
  const cspViolations: string[] = [];
  /** Uncaught exceptions in the page (a module that failed to load, a handler that threw). */
  const pageErrors: string[] = [];
  /** The app's open TCP connections, to drop them as a network failure would. */
  let connections: ReturnType<typeof trackConnections>;

  beforeAll(async () => {
    t = await createTestApp({
      listen: true,
      // Capture's triggers checked often: the banner test waits for /health to notice.
      env: { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_SCHEDULE: '1h', CAPTURE_CHECK_INTERVAL_MS: '200' },
    });
    connections = trackConnections(t);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(t.url);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
  });
  afterAll(async () => {
    await browser?.close();
    await t.close();
  });

  const totalOf = (invoiceId: string) => page.locator(`tr[data-invoice-id="${invoiceId}"] .total`);

  it('shows a change made by direct SQL without a reload', async () => {
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-1') RETURNING id`);
    const id = rows[0].id;
    await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 3, 1250)`, [id]);
    await totalOf(id).filter({ hasText: '37.50' }).waitFor({ timeout: 15_000 });
    await page.locator('#notifications li').filter({ hasText: 'invoice_items.created' }).first().waitFor();
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  });

  it('fits a phone (420 px) without horizontal scrolling, starts its feed with stored notifications, lists every captured table, and has an icon', async () => {
    const phone = await browser.newPage({ viewport: { width: 420, height: 800 } });
    try {
      await phone.goto(t.url);
      await phone.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
      await phone.locator('summary').filter({ hasText: 'DASH-1' }).waitFor({ timeout: 15_000 });
      // Stored before this page opened: the feed starts with them, not with "Waiting for changes".
      await phone.locator('#notifications li').filter({ hasText: 'invoice_items.created' }).first().waitFor({ timeout: 5_000 });
      expect(await phone.locator('#feed-empty').isHidden()).toBe(true);
      // Before any notification reached this page: the tables come from GET /tables.
      await phone.locator('#filter-table option[value="invoice_items"]').waitFor({ state: 'attached' });
      expect(await phone.locator('#filter-table option').allTextContents()).toEqual(expect.arrayContaining(['invoices', 'invoice_items']));
      const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      mkdirSync(ARTIFACTS, { recursive: true });
      await phone.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    } finally {
      await phone.close();
    }
    const icon = await t.http.get('/favicon.ico').expect(200);
    expect(icon.headers['content-type']).toContain('image/svg+xml');
  });

  it('reaches invoices older than the newest 100 with "Older invoices"', async () => {
    await t.db.sql.query(`INSERT INTO invoices (invoice_no, created_at) SELECT 'OLD-' || g, now() - interval '1 day' - g * interval '1 second' FROM generate_series(1, 120) g`);
    const fresh = await browser.newPage();
    try {
      await fresh.goto(t.url);
      await fresh.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
      await fresh.locator('summary').filter({ hasText: 'OLD-1' }).first().waitFor({ timeout: 15_000 });
      expect(await fresh.locator('summary').filter({ hasText: /^OLD-120$/ }).count()).toBe(0);
      await fresh.getByRole('button', { name: 'Older invoices' }).click();
      await fresh.locator('summary').filter({ hasText: /^OLD-120$/ }).waitFor({ timeout: 15_000 });
      expect(await fresh.getByRole('button', { name: 'Older invoices' }).isHidden()).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('writes amounts as money and times with their date, in the browser\'s locale, the exact values in tooltips', async () => {
    const { body: invoice } = await t.http.post('/invoices').send({ invoiceNo: 'DASH-MONEY', items: [{ quantity: 1, amountPerUnit: 123456 }] }).expect(201);
    const total = totalOf(invoice.id).locator('data');
    await total.filter({ hasText: '¤1,234.56' }).waitFor({ timeout: 15_000 });
    expect(await total.getAttribute('value')).toBe('123456');
    expect(await total.getAttribute('title')).toBe('123,456 minor units / 100 (rowcast records no currency)');
    const updated = page.locator(`tr[data-invoice-id="${invoice.id}"] time`);
    expect(await updated.getAttribute('title')).toBe(invoice.updatedAt);
    expect(await updated.getAttribute('datetime')).toBe(invoice.updatedAt);
    expect(await updated.textContent()).toMatch(/^\d{1,2}\/\d{1,2}\/\d{2}, \d{1,2}:\d{2}:\d{2}/);
    const feedTime = page.locator('#notifications li').filter({ hasText: 'invoices.created' }).first().locator('time');
    expect(await feedTime.textContent()).toMatch(/^\d{1,2}\/\d{1,2}\/\d{2}, /);
    expect(await feedTime.getAttribute('title')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);

    const german = await browser.newPage({ locale: 'de-DE' });
    try {
      await german.goto(t.url);
      const row = german.locator(`tr[data-invoice-id="${invoice.id}"]`);
      await row.locator('.total').filter({ hasText: '1.234,56 ¤' }).waitFor({ timeout: 15_000 });
      expect(await row.locator('.total data').getAttribute('title')).toBe('123.456 minor units / 100 (rowcast records no currency)');
      // The locale's spacing is a no-break space.
      expect((await row.locator('li').textContent())!.replaceAll('\u00a0', ' ')).toBe('1 × 1.234,56 ¤ = 1.234,56 ¤');
      expect(await row.locator('time').textContent()).toMatch(/^\d{2}\.\d{2}\.\d{2}, \d{2}:\d{2}:\d{2}$/);
    } finally {
      await german.close();
    }
  });

  it('finds invoices by the start of their number, follows changes within the search, and shows everything again when it is cleared', async () => {
    const fresh = await browser.newPage();
    try {
      await fresh.goto(t.url);
      await fresh.locator('summary').filter({ hasText: 'OLD-1' }).first().waitFor({ timeout: 15_000 });
      const numbers = () => fresh.locator('#invoices summary').allTextContents();
      const search = fresh.getByRole('searchbox', { name: 'Invoice number' });
      await search.fill('old-11');
      await fresh.waitForFunction(() => [...document.querySelectorAll('#invoices summary')].every((summary) => summary.textContent!.startsWith('OLD-11')));
      expect((await numbers()).sort()).toEqual(['OLD-11', ...Array.from({ length: 10 }, (_, i) => `OLD-11${i}`)].sort());
      expect(await fresh.getByRole('button', { name: 'Older invoices' }).isHidden()).toBe(true);
      // Followed live: one created into the search shows, one renamed out of it goes.
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('old-11-new')`);
      await fresh.locator('#invoices summary').filter({ hasText: /^old-11-new$/ }).waitFor({ timeout: 15_000 });
      await t.db.sql.query(`UPDATE invoices SET invoice_no = 'GONE-110' WHERE invoice_no = 'OLD-110'`);
      await fresh.locator('#invoices summary').filter({ hasText: /^OLD-110$/ }).waitFor({ state: 'detached', timeout: 15_000 });
      expect(await fresh.locator('#invoices summary').filter({ hasText: 'GONE-110' }).count()).toBe(0);

      await search.fill('nothing-like-this');
      await fresh.getByText('No invoice number starts with “nothing-like-this”.').waitFor({ timeout: 15_000 });
      expect(await fresh.locator('#invoices tbody tr').count()).toBe(0);

      await search.fill('');
      await fresh.locator('summary').filter({ hasText: 'DASH-1' }).waitFor({ timeout: 15_000 });
      expect(await fresh.getByRole('button', { name: 'Older invoices' }).isVisible()).toBe(true);
      expect(await fresh.locator('#invoices-empty').isHidden()).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('shows changes made through the REST API', async () => {
    const created = await t.http.post('/invoices').set('X-Actor', 'dana').send({ invoiceNo: 'DASH-REST', items: [{ quantity: 2, amountPerUnit: 500 }] });
    await totalOf(created.body.id).filter({ hasText: '10.00' }).waitFor({ timeout: 15_000 });
    await page.locator('#notifications li').filter({ hasText: 'by dana' }).first().waitFor();
  });

  it('updates only the rows that changed: an expanded invoice stays open, focused, and in place', async () => {
    const { rows } = await t.db.sql.query(`SELECT id, invoice_no FROM invoices WHERE invoice_no IN ('DASH-1', 'DASH-REST')`);
    const id = (no: string) => rows.find((row) => row.invoice_no === no).id;
    const row = page.locator(`tr[data-invoice-id="${id('DASH-1')}"]`);
    const summary = row.locator('summary');
    await summary.click();
    await summary.focus();
    await row.evaluate((element) => {
      element.scrollIntoView({ block: 'center' });
      (element as HTMLElement).dataset.marker = 'the same element'; // gone if the row is rebuilt
    });
    const scrolled = await page.evaluate(() => scrollY);
    // A change to another invoice, then one to this invoice.
    await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 100)`, [id('DASH-REST')]);
    await totalOf(id('DASH-REST')).filter({ hasText: '11.00' }).waitFor({ timeout: 15_000 });
    await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 100)`, [id('DASH-1')]);
    await totalOf(id('DASH-1')).filter({ hasText: '38.50' }).waitFor({ timeout: 15_000 });
    await row.locator('li').nth(1).filter({ hasText: '1 × ¤1.00 = ¤1.00' }).waitFor({ state: 'attached' });
    expect(await row.evaluate((element) => (element as HTMLElement).dataset.marker)).toBe('the same element');
    expect(await summary.evaluate((element) => (element.parentElement as HTMLDetailsElement).open)).toBe(true);
    expect(await summary.evaluate((element) => document.activeElement === element)).toBe(true);
    expect(await page.evaluate(() => scrollY)).toBe(scrolled);
  });

  it('opens a feed entry with a click or Enter to show what changed, and keeps it open as new entries arrive', async () => {
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-OPEN') RETURNING id`);
    const { rows: items } = await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 500) RETURNING id`, [rows[0].id]);
    await t.db.sql.query(`UPDATE invoice_items SET quantity = 3 WHERE id = $1`, [items[0].id]);
    const [created, updated] = await waitForNotifications(t.db.sql, 2, { where: `table_name = 'invoice_items' AND entity_id = $1`, values: [items[0].id] });
    const entry = (id: string) => page.locator(`#notifications li[data-notification-id="${id}"]`);
    const toggle = (id: string) => entry(id).getByRole('button');
    await entry(updated.id).waitFor({ timeout: 15_000 });

    // A click: each changed column, before → after.
    expect(await toggle(updated.id).getAttribute('aria-expanded')).toBe('false');
    expect(await entry(updated.id).locator('.change').isHidden()).toBe(true);
    await toggle(updated.id).click();
    expect(await toggle(updated.id).getAttribute('aria-expanded')).toBe('true');
    const change = entry(updated.id).locator('.change');
    expect(await change.isVisible()).toBe(true);
    expect(await toggle(updated.id).getAttribute('aria-controls')).toBe(await change.getAttribute('id'));
    const shown = async (id: string) =>
      Object.fromEntries(await entry(id).locator('.change dt').evaluateAll((terms) => terms.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])));
    expect(await shown(updated.id)).toMatchObject({ quantity: '2 → 3', total_amount: '1000 → 1500' });

    // Enter on a created row's entry: the row.
    await toggle(created.id).focus();
    await page.keyboard.press('Enter');
    expect(await toggle(created.id).getAttribute('aria-expanded')).toBe('true');
    expect(await shown(created.id)).toMatchObject({ id: items[0].id, invoice_id: rows[0].id, quantity: '2', amount_per_unit: '500' });

    // New entries above it, a filter changed and cleared: the same entries, still open.
    await entry(updated.id).evaluate((element) => ((element as HTMLElement).dataset.marker = 'the same element'));
    await t.db.sql.query(`DELETE FROM invoice_items WHERE id = $1`, [items[0].id]);
    const [deleted] = await waitForNotifications(t.db.sql, 1, { where: `event = 'invoice_items.deleted' AND entity_id = $1`, values: [items[0].id] });
    await entry(deleted.id).waitFor({ timeout: 15_000 });
    await page.getByLabel('Event').fill('invoice_items.*');
    await page.getByLabel('Event').fill('');
    expect(await entry(updated.id).evaluate((element) => (element as HTMLElement).dataset.marker)).toBe('the same element');
    expect(await toggle(updated.id).getAttribute('aria-expanded')).toBe('true');
    expect(await change.isVisible()).toBe(true);

    // A deleted row's entry: the row as it was; a second click closes it.
    await toggle(deleted.id).click();
    expect(await shown(deleted.id)).toMatchObject({ id: items[0].id, quantity: '3' });
    await toggle(deleted.id).click();
    expect(await toggle(deleted.id).getAttribute('aria-expanded')).toBe('false');
    expect(await entry(deleted.id).locator('.change').isHidden()).toBe(true);
    for (const id of [created.id, updated.id]) await toggle(id).click(); // closed again for the tests after
  });

  it('resumes after a dropped connection without losing the changes made meanwhile', async () => {
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-GAP') RETURNING id`);
    const id = rows[0].id;
    await totalOf(id).waitFor({ timeout: 15_000 });
    await page.evaluate(() => (window as unknown as { rowcast: { disconnect(): void } }).rowcast.disconnect());
    await page.getByRole('status').filter({ hasText: 'Disconnected' }).waitFor();
    await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 1, 999)`, [id]);
    await waitForNotifications(t.db.sql, 1, { where: `event = 'invoice_items.created' AND payload->'new'->>'invoice_id' = $1`, values: [id] });
    await page.evaluate(() => (window as unknown as { rowcast: { connect(): void } }).rowcast.connect());
    await totalOf(id).filter({ hasText: '9.99' }).waitFor({ timeout: 15_000 });
  });

  it('reconnects by itself when the network drops the connection', async () => {
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-DROP') RETURNING id`);
    const id = rows[0].id;
    await totalOf(id).waitFor({ timeout: 15_000 });
    connections.cut(); // the page's HTTP and WebSocket connections
    await page.getByRole('status').filter({ hasText: 'Reconnecting' }).waitFor();
    await t.db.sql.query(`INSERT INTO invoice_items (invoice_id, quantity, amount_per_unit) VALUES ($1, 2, 321)`, [id]);
    await totalOf(id).filter({ hasText: '6.42' }).waitFor({ timeout: 15_000 });
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  });

  it('filters the feed, and is usable with a keyboard and a screen reader', async () => {
    await page.getByLabel('Event').fill('invoices.*');
    const events = await page.locator('#notifications .event').allTextContents();
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.startsWith('invoices.'))).toBe(true);
    await page.getByLabel('Event').fill('');
    expect(await page.getByRole('table').locator('caption').textContent()).toContain('Invoices');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('rowcast');
    // On a fresh load, Tab reaches the skip link first; Enter opens an invoice's items.
    const fresh = await browser.newPage();
    try {
      await fresh.goto(t.url);
      await fresh.locator('summary').first().waitFor({ timeout: 15_000 });
      await fresh.keyboard.press('Tab');
      expect(await fresh.evaluate(() => document.activeElement?.textContent)).toContain('Skip to the live feed');
      const summary = fresh.locator('summary').first();
      await summary.focus();
      await fresh.keyboard.press('Enter');
      expect(await summary.evaluate((element) => (element.parentElement as HTMLDetailsElement).open)).toBe(true);
    } finally {
      await fresh.close();
    }
  });

  it('filters the feed by a table outside the public schema', async () => {
    await t.db.sql.query(`CREATE SCHEMA dash; CREATE TABLE dash.orders (id int PRIMARY KEY); SELECT capture.enable('dash.orders')`);
    await t.db.sql.query(`INSERT INTO dash.orders VALUES (1)`);
    await page.locator('#notifications .event').filter({ hasText: 'dash.orders.created' }).first().waitFor({ timeout: 15_000 });
    await page.getByLabel('Table').selectOption('dash.orders');
    try {
      expect(await page.locator('#notifications .event').allTextContents()).toEqual(['dash.orders.created']);
    } finally {
      await page.getByLabel('Table').selectOption('');
    }
  });

  it('lists sinks with their state, lag, last delivery and last error', async () => {
    // Nothing listens on port 9: every connection is refused.
    const { body: webhook } = await t.http.post('/webhooks').send({ name: 'ops-hook', url: 'http://127.0.0.1:9/hook', tables: ['invoices'] }).expect(201);
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-SINK-1'), ('DASH-SINK-2')`);
    const row = page.locator(`tr[data-sink-id="${webhook.id}"]`);
    await row.filter({ hasText: 'failing' }).filter({ hasText: 'connection refused' }).waitFor({ timeout: 15_000 });
    expect(await row.locator('td').first().textContent()).toBe('ops-hook');
    expect(await row.locator('td').nth(1).textContent()).toBe('webhook');
    // Both inserts are behind its position (and whatever else the page has heard of since).
    await row.locator('.lag').filter({ hasText: /^([2-9]|\d\d+)$/ }).waitFor({ timeout: 15_000 });
    expect(await row.locator('.delivered').textContent()).toBe('nothing yet');
    expect(await page.getByRole('table', { name: 'Sinks with their state, lag, last delivery and last error' }).isVisible()).toBe(true);
    // Its lag over the last refreshes, drawn beside the number, the newest on the right.
    await row.locator('.lag svg.spark').waitFor({ timeout: 15_000 });
    const drawn = await row.locator('.lag').evaluate((td) => ({
      lag: td.firstChild!.textContent,
      label: td.querySelector('svg')!.getAttribute('aria-label')!,
      points: td.querySelector('polyline')!.getAttribute('points')!.split(' ').length,
    }));
    const samples = drawn.label.replace(/^.*: /, '').split(', ');
    expect(samples.at(-1)).toBe(drawn.lag);
    expect(drawn.points).toBe(samples.length);

    const receiver = new WebhookReceiver();
    await receiver.accept();
    try {
      const { body: delivering } = await t.http.post('/webhooks').send({ name: 'billing-hook', url: receiver.url, events: ['invoices.created'] }).expect(201);
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-SINK-3')`);
      await waitFor(() => receiver.delivered.length === 1, { what: 'the webhook delivered' });
      const delivered = page.locator(`tr[data-sink-id="${delivering.id}"] .delivered`);
      await delivered.filter({ hasText: `#${receiver.delivered[0]}` }).waitFor({ timeout: 15_000 });
      const { body: sink } = await t.http.get(`/sinks/${delivering.id}`).expect(200);
      expect(await delivered.locator('time').getAttribute('title')).toBe(sink.lastDeliveredAt);
      expect(await delivered.textContent()).toMatch(new RegExp(`^\\d{1,2}/\\d{1,2}/\\d{2}, \\d{1,2}:\\d{2}:\\d{2}.* · #${receiver.delivered[0]}$`));
      await t.http.delete(`/webhooks/${delivering.id}`).expect(204);
    } finally {
      await receiver.close();
    }
  });

  it("opens a notification's deliveries: what each sink did with it", async () => {
    const receiver = new WebhookReceiver();
    await receiver.accept();
    try {
      const { body: hook } = await t.http.post('/webhooks').send({ name: 'trace-hook', url: receiver.url, events: ['invoices.created'] }).expect(201);
      await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-TRACE')`);
      await waitFor(() => receiver.delivered.length === 1, { what: 'the webhook delivered' });
      const id = receiver.delivered[0];
      await waitFor(async () => (await t.http.get(`/notifications/${id}/deliveries`)).body.destinations?.find((d: { name: string }) => d.name === 'trace-hook')?.status === 'delivered', {
        what: 'the trace to say delivered',
      });
      const entry = page.locator(`#notifications li[data-notification-id="${id}"]`);
      await entry.waitFor({ timeout: 15_000 });
      await entry.getByRole('button').click();
      const line = entry.locator('.deliveries li[data-destination="trace-hook"]');
      await line.waitFor({ timeout: 15_000 });
      expect(await line.getAttribute('data-status')).toBe('delivered');
      expect(await line.textContent()).toMatch(/^trace-hook \(webhook\): delivered · confirmed /);
      await entry.getByRole('button').click();
      await t.http.delete(`/webhooks/${hook.id}`).expect(204);
    } finally {
      await receiver.close();
    }
  });

  it('lists consumer groups with their order, lag, pending, in flight and dead letters', async () => {
    await t.http.post('/consumers').send({ name: 'dash-workers', tables: ['invoices'], order: 'key' }).expect(201);
    await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-PULL-1'), ('DASH-PULL-2'), ('DASH-PULL-3')`);
    const row = page.locator('tr[data-group="dash-workers"]');
    const cells = async () => (await row.locator('td').allTextContents()).slice(1, 6);
    // Nobody pulled yet: the three are behind its position.
    await row.locator('.lag').filter({ hasText: /^([3-9]|\d\d+)( · \d+ s)?$/ }).waitFor({ timeout: 15_000 });
    expect(await row.locator('td').first().textContent()).toBe('dash-workers');
    const { body: received } = await t.http.post('/consumers/dash-workers/receive').send({ max: 2, waitMs: 5000 }).expect(200);
    expect(received.messages).toHaveLength(2);
    await t.http.post('/consumers/dash-workers/term').send({ leaseIds: [received.messages[1].leaseId] }).expect(200);
    await waitFor(async () => JSON.stringify((await cells()).slice(2)) === JSON.stringify(['1', '1', '1']), { timeout: 15_000, what: 'pending 1, in flight 1, dead 1' });
    expect((await cells())[0]).toBe('per row');
    expect(await page.getByRole('table', { name: 'Consumer groups with their order, lag, pending, in flight and dead letters' }).isVisible()).toBe(true);
    await t.http.delete('/consumers/dash-workers').expect(204);
    await row.waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('serves an API docs page that renders under the same Content-Security-Policy', async () => {
    const docs = await browser.newPage();
    const violations: string[] = [];
    docs.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) violations.push(message.text());
    });
    try {
      await docs.goto(`${t.url}/docs`);
      await docs.locator('.swagger-ui .info .title').filter({ hasText: 'rowcast' }).waitFor({ timeout: 15_000 });
      await docs.locator('.opblock-summary-path').filter({ hasText: '/invoices' }).first().waitFor();
      expect(violations).toEqual([]);
    } finally {
      await docs.close();
    }
  });

  it('shows a TRUNCATE in the feed, and the totals it zeroed, without a reload or a page error', async () => {
    const { rows } = await t.db.sql.query(`SELECT id FROM invoices WHERE invoice_no = 'DASH-1'`);
    await totalOf(rows[0].id).filter({ hasText: /^(?!¤0\.00$)/ }).waitFor({ timeout: 5_000 });
    await t.db.sql.query(`TRUNCATE invoice_items`);
    await page.locator('#notifications li').filter({ hasText: 'invoice_items.truncated' }).filter({ hasText: 'all rows removed' }).first().waitFor({ timeout: 15_000 });
    await totalOf(rows[0].id).filter({ hasText: /^¤0\.00$/ }).waitFor({ timeout: 15_000 });
    expect(await page.locator(`tr[data-invoice-id="${rows[0].id}"] li`).count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('says in a few words what a schema change did to a captured table', async () => {
    await t.db.sql.query(`CREATE TABLE dash_notes (id integer PRIMARY KEY, label text)`);
    await t.db.sql.query(`SELECT capture.enable('dash_notes')`);
    const item = (event: string, summary: string) =>
      page.locator('#notifications li').filter({ hasText: event }).filter({ hasText: summary }).first().waitFor({ timeout: 15_000 });
    await t.db.sql.query(`ALTER TABLE dash_notes RENAME COLUMN label TO title`);
    await item('dash_notes.schema_changed', 'added title (text); dropped label');
    await t.db.sql.query(`ALTER TABLE dash_notes ALTER COLUMN id TYPE bigint, ADD COLUMN due date`);
    await item('dash_notes.schema_changed', 'added due (date); retyped id integer → bigint');
    await t.db.sql.query(`ALTER TABLE dash_notes RENAME TO dash_memos`);
    await item('dash_notes.schema_changed', 'renamed to dash_memos');
    await t.db.sql.query(`DROP TABLE dash_memos`);
    await item('dash_memos.schema_changed', 'table dropped');
    expect(pageErrors).toEqual([]);
  });

  it('opens a TRUNCATE or a schema change to show what its payload says', async () => {
    const truncated = page.locator('#notifications li').filter({ hasText: 'invoice_items.truncated' }).first();
    await truncated.getByRole('button').click();
    expect(await truncated.locator('.change').textContent()).toContain('Every row of invoice_items was removed (TRUNCATE)');
    await truncated.getByRole('button').click();

    const altered = page.locator('#notifications li').filter({ hasText: 'dash_notes.schema_changed' }).filter({ hasText: 'retyped id' }).first();
    await altered.getByRole('button').click();
    const shapes = altered.getByRole('table');
    const row = async (name: string) => shapes.getByRole('row').filter({ has: page.getByRole('rowheader', { name }) }).getByRole('cell').allInnerTexts();
    expect(await row('Table')).toEqual(['dash_notes', 'dash_notes']);
    expect(await row('Key')).toEqual(['id', 'id']);
    expect(await row('Columns')).toEqual(['id integer\ntitle text', 'id bigint\ntitle text\ndue date']);
    expect(await altered.locator('.change > p').textContent()).toBe('ALTER TABLE: added due (date); retyped id integer → bigint.');
    await altered.getByRole('button').click();

    const dropped = page.locator('#notifications li').filter({ hasText: 'dash_memos.schema_changed' }).first();
    await dropped.getByRole('button').click();
    expect(await dropped.getByRole('table').getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Table' }) }).getByRole('cell').allInnerTexts()).toEqual([
      'dash_memos',
      'dropped: no longer captured',
    ]);
    await dropped.getByRole('button').click();
    expect(pageErrors).toEqual([]);
  });

  it('warns while a captured table\'s trigger is disabled, naming the table and the command that re-arms it', async () => {
    const banner = page.getByRole('alert').filter({ hasText: 'Capture is incomplete' });
    let armed = false;
    try {
      await t.db.sql.query(`ALTER TABLE invoices DISABLE TRIGGER capture_insert`);
      await banner.filter({ hasText: 'invoices: its insert trigger is disabled' }).waitFor({ timeout: 15_000 });
      expect(await banner.locator('code').allTextContents()).toEqual(['npm run capture -- enable invoices']);
      // Above the panels, where it is seen first.
      expect(await banner.evaluate((element) => element.nextElementSibling?.tagName)).toBe('MAIN');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-capture-problems.png') });
      await t.db.sql.query(`SELECT capture.enable('invoices')`);
      armed = true;
      await banner.waitFor({ state: 'detached', timeout: 15_000 });
      expect(await page.locator('#capture-problems').isHidden()).toBe(true);
    } finally {
      if (!armed) await t.db.sql.query(`SELECT capture.enable('invoices')`);
    }
  });

  it('empties the invoices panel when TRUNCATE ... CASCADE removes every invoice, and goes on following', async () => {
    expect(await page.locator('tr[data-invoice-id]').count()).toBeGreaterThan(0);
    await t.db.sql.query(`TRUNCATE invoices CASCADE`);
    await page.locator('#notifications li').filter({ hasText: 'invoices.truncated' }).first().waitFor({ timeout: 15_000 });
    await page.locator('tr[data-invoice-id]').first().waitFor({ state: 'detached', timeout: 15_000 });
    expect(await page.locator('#invoices-empty').isVisible()).toBe(true);
    const { rows } = await t.db.sql.query(`INSERT INTO invoices (invoice_no) VALUES ('DASH-AFTER') RETURNING id`);
    await totalOf(rows[0].id).filter({ hasText: '0.00' }).waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  });

  // Last: it turns the service's keys on.
  it('asks for an API key once keys exist, refuses a wrong one, and with a good one loads everything it was refused', async () => {
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
    const token = await createKey(t.db, 'dashboard', ['invoices:read', 'events:subscribe', 'notifications:read', 'sinks:manage']);
    await reloadKeys(t);
    // The open page is disconnected (it had no key) and asks for one.
    await page.getByRole('status').filter({ hasText: 'API key needed' }).waitFor({ timeout: 5_000 });

    const withoutLive = await createKey(t.db, 'no-live', ['invoices:read', 'notifications:read']);
    const withoutInvoices = await createKey(t.db, 'no-invoices', ['events:subscribe', 'notifications:read']);
    await reloadKeys(t);

    const fresh = await browser.newPage();
    try {
      await fresh.goto(t.url);
      const form = fresh.getByRole('form', { name: 'API key needed' });
      await form.waitFor({ timeout: 15_000 });
      // What the prompt says, in words: never the API's own text (JSON, "Authorization: Bearer …").
      const said: string[] = [];
      const says = async (text: string) => {
        const alert = fresh.locator('#key-error');
        await alert.filter({ hasText: text }).waitFor({ timeout: 5_000 });
        said.push((await alert.textContent())!);
      };
      const useKey = async (key: string) => {
        await fresh.getByLabel('API key', { exact: true }).fill(key);
        await fresh.getByRole('button', { name: 'Use this key' }).click();
      };
      await says('This service needs an API key.');
      await useKey(withoutLive);
      await says('That key may not follow changes live (it needs events:subscribe).');
      await useKey('rck_wrong');
      await says('That key was refused');
      await useKey(withoutInvoices); // live, but its invoices are refused
      await says('That key may not read invoices (it needs invoices:read).');
      for (const text of said) expect(text).not.toMatch(/[{}"]|Bearer|statusCode|Unauthorized|Forbidden|\b40[13]\b/);
      await useKey(token);
      await fresh.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
      await fresh.locator('summary').filter({ hasText: 'DASH-AFTER' }).waitFor({ timeout: 15_000 });
      expect(await form.isHidden()).toBe(true);
      // Refused before the key, asked again with it: stored notifications, every table, sinks.
      await fresh.locator('#notifications li').filter({ hasText: 'invoice_items.created' }).first().waitFor({ timeout: 5_000 });
      expect(await fresh.locator('#feed-empty').isHidden()).toBe(true);
      await fresh.locator('#filter-table option[value="invoice_items"]').waitFor({ state: 'attached', timeout: 5_000 });
      await fresh.locator('tr[data-sink-id]').filter({ hasText: 'ops-hook' }).waitFor({ timeout: 5_000 });
    } finally {
      await fresh.close();
    }
  });
});
