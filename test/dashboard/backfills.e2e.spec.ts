import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Browser, chromium, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../../test-results');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROWS = 20_000;

/** The dashboard's backfills panel in a real headless Chromium: progress bars that follow each backfill live. */
describe('dashboard backfills panel', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({ listen: true });
    await t.db.sql.query(`CREATE TABLE bales (id int PRIMARY KEY, weight int NOT NULL)`);
    await t.db.sql.query(`INSERT INTO bales SELECT g, g % 70 FROM generate_series(1, ${ROWS}) g`);
    await t.db.sql.query(`SELECT capture.enable('bales')`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(t.url);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor({ timeout: 15_000 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows a backfill running with its progress, rate and time left, then paused, then completed, without a reload', async () => {
    await page.locator('#backfills-note').filter({ hasText: 'No backfill under way' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#backfills').isHidden()).toBe(true);

    // A writer holding a row three quarters in: the backfill reads up to it and waits there, running.
    const holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM bales WHERE id = ${(ROWS * 3) / 4} FOR UPDATE`);
      const { body: started } = await t.http.post('/backfills').send({ table: 'bales' }).expect(201);
      const row = page.locator(`#backfills tr[data-backfill-id="${started.id}"]`);
      const bar = row.getByRole('progressbar', { name: /^bales: \d+% read$/ });

      // Running, with rows read: the bar part-filled, a rate and a time left.
      await row.locator('.state').filter({ hasText: 'running' }).waitFor({ timeout: 15_000 });
      await page.waitForFunction(
        (id) => {
          const cell = document.querySelector(`#backfills tr[data-backfill-id="${id}"]`);
          const progress = cell?.querySelector('progress');
          return progress && progress.value > 0 && cell!.querySelector('.rate')!.textContent !== '—' && /\d+ s$/.test(cell!.querySelector('.eta')!.textContent!);
        },
        started.id,
        { timeout: 15_000 },
      );
      expect(await page.locator('#backfills').isVisible()).toBe(true);
      expect(await row.locator('td').first().textContent()).toBe('bales');
      const value = await bar.evaluate((progress: HTMLProgressElement) => ({ value: progress.value, max: progress.max }));
      expect(value.value).toBeLessThan((ROWS * 3) / 4);
      expect(value.max).toBeGreaterThan(ROWS / 2);
      expect(await row.locator('.rows').textContent()).toMatch(/^[\d,]+ of ~[\d,]+ rows \(\d+%\)$/);
      expect(await row.locator('.rate').textContent()).toMatch(/^[\d,]+ rows\/s$/);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.locator('#backfills-panel').screenshot({ path: path.join(ARTIFACTS, 'dashboard-backfills.png') });

      // Fits a phone with a backfill shown.
      await page.setViewportSize({ width: 420, height: 800 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
      await page.setViewportSize({ width: 1280, height: 800 });

      await t.http.post(`/backfills/${started.id}/pause`).expect(200);
      await row.locator('.state').filter({ hasText: 'paused' }).waitFor({ timeout: 10_000 });
      expect(await row.locator('.eta').textContent()).toBe('—');

      await holder.query('COMMIT');
      await t.http.post(`/backfills/${started.id}/resume`).expect(200);
      await row.locator('.state').filter({ hasText: 'completed' }).waitFor({ timeout: 60_000 });
      await row.locator('.rows').filter({ hasText: '20,000 of 20,000 rows (100%)' }).waitFor({ timeout: 5_000 });
      expect(await bar.getAttribute('aria-label')).toBe('bales: 100% read');
    } finally {
      await holder.end();
    }
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
