import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TestApp } from '../support/app.js';
import { bearer, createKey, reloadKeys } from '../support/keys.js';
import { connectClient, TestClient } from '../support/socket.js';
import { parsePrometheus } from '../support/metrics.js';
import { waitFor } from '../support/wait.js';

describe('operations', () => {
  describe('/metrics', () => {
    let t: TestApp;
    let admin: string;
    const clients: TestClient[] = [];
    beforeAll(async () => {
      t = await createTestApp({ listen: true });
      admin = await createKey(t.db, 'prometheus', ['admin']);
      await createKey(t.db, 'reader', ['invoices:read', 'events:subscribe']);
      await reloadKeys(t);
    });
    afterAll(async () => {
      clients.forEach((client) => client.close());
      await t.close();
    });
    const scrape = async () => {
      const response = await t.http.get('/metrics').set(bearer(admin)).expect(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      return parsePrometheus(response.text);
    };

    it("names metrics as Prometheus' conventions (and promtool) ask: counters and only counters end in _total, each has HELP", async () => {
      const text = (await t.http.get('/metrics').set(bearer(admin)).expect(200)).text;
      const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name, type }));
      expect(types.length).toBeGreaterThan(20);
      const wrong = types.filter(({ name, type }) => (type === 'counter') !== name.endsWith('_total')).map(({ name, type }) => `${name} (${type})`);
      expect(wrong).toEqual([]);
      const helped = new Set([...text.matchAll(/^# HELP (\S+) \S.*$/gm)].map(([, name]) => name));
      expect(types.filter(({ name }) => !helped.has(name))).toEqual([]);
      expect(types.every(({ name }) => name.startsWith('rowcast_'))).toBe(true);
    });

    it('needs the admin scope', async () => {
      await t.http.get('/metrics').expect(401);
      const reader = await createKey(t.db, 'not-admin', ['notifications:read']);
      await reloadKeys(t);
      expect((await t.http.get('/metrics').set(bearer(reader)).expect(403)).body.message).toContain('lacks the scope admin');
    });

    it('parses as Prometheus text, and its counters move with the traffic', async () => {
      const before = await scrape();
      for (const name of [
        'rowcast_journal_backlog',
        'rowcast_drain_lag_seconds',
        'rowcast_listener_connected',
        'rowcast_listener_reconnects_total',
        'rowcast_notifications_total',
        'rowcast_pushes_total',
        'rowcast_websocket_clients',
        'rowcast_slow_clients_disconnected_total',
        'rowcast_process_resident_memory_bytes',
      ]) {
        expect(before.has(name), name).toBe(true);
      }
      expect(before.get('rowcast_listener_connected')).toBe(1);

      const client = await connectClient(t.url, { token: admin });
      clients.push(client);
      expect((await client.subscribe({ tables: ['invoices'] })).ok).toBe(true);
      await t.http.post('/invoices').set(bearer(admin)).send({ invoiceNo: 'METRICS-1' }).expect(201);
      await t.http.post('/invoices').set(bearer(admin)).send({ invoiceNo: 'METRICS-2' }).expect(201);
      await client.waitFor(2);

      const after = await waitFor(async () => {
        const now = await scrape();
        return (now.get('rowcast_notifications_total') ?? 0) >= (before.get('rowcast_notifications_total') ?? 0) + 2 ? now : undefined;
      });
      expect(after.get('rowcast_pushes_total')).toBeGreaterThanOrEqual((before.get('rowcast_pushes_total') ?? 0) + 2);
      expect(after.get('rowcast_changes_drained_total')).toBeGreaterThanOrEqual(2);
      expect(after.get('rowcast_websocket_clients')).toBe(1);
      const created = 'rowcast_http_request_duration_seconds_count{method="POST",route="/invoices",status="201"}';
      expect(after.get(created)).toBe(2);
      // Routes are labelled by pattern, never by the raw URL (bounded label values).
      await t.http.get('/invoices/00000000-0000-4000-8000-000000000000').set(bearer(admin)).expect(404);
      const later = await scrape();
      expect(later.get('rowcast_http_request_duration_seconds_count{method="GET",route="/invoices/:id",status="404"}')).toBe(1);
      expect([...later.keys()].some((key) => key.includes('00000000-0000'))).toBe(false);
    });
  });

  describe('/metrics without its database', () => {
    it('still answers, with the backlog unknown and rowcast_database_up 0', async () => {
      const t = await createTestApp();
      const admin = await createKey(t.db, 'scraper', ['admin']);
      await reloadKeys(t);
      const { withAdmin } = await import('../support/database.js');
      const { inject } = await import('vitest');
      const cutOff = (allow: boolean) =>
        withAdmin(inject('adminUrl'), async (pg) => {
          await pg.query(`ALTER DATABASE ${t.db.name} WITH ALLOW_CONNECTIONS ${allow}`);
          if (!allow) await pg.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [t.db.name]);
        });
      try {
        await cutOff(false);
        // The backlog is read in the background every second: the next reading fails.
        const samples = await waitFor(async () => {
          const response = await t.http.get('/metrics').set(bearer(admin)).expect(200);
          const scraped = parsePrometheus(response.text);
          return scraped.get('rowcast_database_up') === 0 ? scraped : undefined;
        }, { what: 'a failed backlog reading' });
        expect(samples.get('rowcast_journal_backlog')).toBeNaN();
      } finally {
        await cutOff(true);
        await t.close();
      }
    });
  });

  describe('security headers and CORS', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp({ listen: true, env: { CORS_ORIGINS: 'https://app.example.com, https://ops.example.com' } });
    });
    afterAll(() => t.close());

    it('sends helmet headers on API, docs and dashboard responses', async () => {
      for (const path of ['/invoices', '/docs', '/', '/health']) {
        const response = await t.http.get(path);
        expect(response.headers['x-content-type-options'], path).toBe('nosniff');
        expect(response.headers['x-frame-options'], path).toBe('SAMEORIGIN');
        expect(response.headers['content-security-policy'], path).toContain("default-src 'self'");
        expect(response.headers['content-security-policy'], path).not.toContain('upgrade-insecure-requests');
        expect(response.headers['x-powered-by'], path).toBeUndefined();
      }
    });

    it('allows the configured origins, and no other, over HTTP and Socket.IO', async () => {
      const preflight = await t.http
        .options('/invoices')
        .set('Origin', 'https://ops.example.com')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('https://ops.example.com');
      const other = await t.http.get('/invoices').set('Origin', 'https://evil.example.com');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();

      const polling = (origin: string) => fetch(`${t.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: origin } });
      expect((await polling('https://app.example.com')).headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect((await polling('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();

      // Browsers open WebSockets to any origin: the handshake checks Origin itself.
      const { io } = await import('socket.io-client');
      const handshake = (origin?: string) =>
        new Promise<string>((resolve) => {
          const socket = io(`${t.url}/events`, {
            transports: ['websocket'],
            forceNew: true,
            reconnection: false,
            extraHeaders: origin ? { Origin: origin } : {},
          });
          const end = (outcome: string) => {
            socket.close();
            resolve(outcome);
          };
          socket.once('connect', () => end('connected'));
          socket.once('connect_error', () => end('refused'));
        });
      expect(await handshake('https://evil.example.com')).toBe('refused');
      expect(await handshake('https://app.example.com')).toBe('connected');
      expect(await handshake(t.url)).toBe('connected'); // same origin (the dashboard)
      expect(await handshake()).toBe('connected'); // not a browser
    });

    it('sends no CORS headers when CORS_ORIGINS is unset', async () => {
      const plain = await createTestApp();
      try {
        const response = await plain.http.get('/invoices').set('Origin', 'https://app.example.com');
        expect(response.headers['access-control-allow-origin']).toBeUndefined();
      } finally {
        await plain.close();
      }
    });
  });
});
